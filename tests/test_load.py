"""50 concurrent calls over streamable HTTP against a fake with 1 s latency: all succeed, the wall time
is bounded by the concurrency limit, memory stays bounded. Prints its figures (no timing thresholds
beyond the bound the limit implies)."""

from __future__ import annotations

import math
import resource
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from easel_mcp.app import build_server
from easel_mcp.http import build_http_app
from easel_mcp.settings import Settings
from tests.fakes.openai_images import FakeOpenAIImages

LIMIT = 10
CALLS = 50
SESSIONS = 10


@pytest.fixture
def loaded_server(workspace_dir: Path) -> Iterator[tuple[str, FakeOpenAIImages]]:
    with FakeOpenAIImages(latency_s=0.2) as fake:
        settings = Settings(
            workspace=workspace_dir, openai_api_key="sk-test", openai_base_url=fake.base_url, max_concurrency=LIMIT
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        app = build_http_app(build_server(settings), "http", "127.0.0.1", None)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}/mcp", fake
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.anyio
async def test_fifty_concurrent_calls_over_http(loaded_server: tuple[str, FakeOpenAIImages]) -> None:
    url, fake = loaded_server
    results: list[bool] = []
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    async def session(calls: int) -> None:
        async with httpx2.AsyncClient(timeout=120) as http, Client(streamable_http_client(url, http_client=http)) as c:
            async with anyio.create_task_group() as tg:
                for i in range(calls):

                    async def one(i: int = i) -> None:
                        r = await c.call_tool(
                            "generate_image",
                            {"prompt": f"load {i}", "quality": "low", "size": "square", "preview": "none"},
                        )
                        results.append(not r.is_error)

                    tg.start_soon(one)

    async def release_when_the_limit_is_reached() -> None:
        await fake.received(LIMIT)
        fake.release()

    fake.hold()  # answers wait until LIMIT calls are upstream at once: the limit is then provably reached
    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(release_when_the_limit_is_reached)
        for _ in range(SESSIONS):
            tg.start_soon(session, CALLS // SESSIONS)
    wall = time.monotonic() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ideal = math.ceil(CALLS / LIMIT) * 0.2
    print(
        f"\n{CALLS} calls, {SESSIONS} sessions, limit {LIMIT}: wall {wall:.2f} s (ideal {ideal:.1f} s), "
        f"peak RSS {rss_after / 1024:.0f} MB (+{(rss_after - rss_before) / 1024:.0f} MB)"
    )
    assert results.count(True) == CALLS and len(fake.requests) == CALLS
    assert fake.max_in_flight == LIMIT  # the limit is honoured (never more upstream at once) and used
    assert rss_after - rss_before < 400 * 1024
