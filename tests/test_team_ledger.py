"""Easel servers sharing one PostgreSQL ledger (EASEL_DATABASE_URL), end to end through MCP clients against the
fake OpenAI server: the budget holds across replicas, usage and jobs read from the shared ledger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from tests.fakes.openai_images import FakeOpenAIImages
from tests.helpers import structured

pytestmark = pytest.mark.anyio


def _settings(workspace: Path, fake: FakeOpenAIImages, database_url: str, **kw: object) -> Settings:
    return Settings(
        workspace=workspace,
        openai_api_key="sk-test",
        openai_base_url=fake.base_url,
        database_url=database_url,
        retry_base_delay_s=0.01,
        **kw,
    )  # type: ignore[arg-type]


async def test_three_replicas_never_overrun_a_shared_budget(postgres_url: str, tmp_path: Path) -> None:
    """3 replicas x 16 parallel calls against a daily budget that fits exactly 5: 5 sent, never more spent."""
    high_square = 0.133  # gpt-image-1.5, high, 1024x1024 (the fake bills the vendor's figure)
    with FakeOpenAIImages() as fake:
        fake.hold()  # every reservation is taken while all the calls are in flight
        replicas = [
            build_server(
                _settings(
                    tmp_path / "workspace",
                    fake,
                    postgres_url,
                    daily_budget_usd=round(5 * high_square + 0.01, 3),
                    max_concurrency=16,
                )
            )
            for _ in range(3)
        ]
        outcomes: list[bool] = []

        async def replica(server: object) -> None:
            async with Client(server) as client, anyio.create_task_group() as tg:  # type: ignore[arg-type]
                for i in range(16):

                    async def one(i: int = i) -> None:
                        args = {"prompt": f"call {i}", "quality": "high", "size": "square", "preview": "none"}
                        outcomes.append(not (await client.call_tool("generate_image", args)).is_error)

                    tg.start_soon(one)

        async def release_when_settled() -> None:
            # 5 reservations fit, the other 43 are refused before anything is sent: then let the upstream answer.
            with anyio.fail_after(120):
                while len(outcomes) < 43:
                    await anyio.sleep(0.01)
            await fake.received(5)
            fake.release()

        async with anyio.create_task_group() as tg:
            tg.start_soon(release_when_settled)
            for server in replicas:
                tg.start_soon(replica, server)
    assert outcomes.count(True) == 5 and len(fake.requests) == 5
    assert fake.charged_usd <= 5 * high_square + 0.01

    env = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "OPENAI_"))}
    env.update(EASEL_WORKSPACE=str(tmp_path / "elsewhere"), EASEL_DATABASE_URL=postgres_url)
    usage = subprocess.run(
        [sys.executable, "-m", "easel_mcp", "usage", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert usage.returncode == 0, usage.stderr
    report = json.loads(usage.stdout)
    assert report["calls"] == 5 and report["cost_usd"] == pytest.approx(fake.charged_usd)


async def test_a_job_started_on_one_replica_is_found_on_another(postgres_url: str, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    with FakeOpenAIImages() as fake:
        async with Client(build_server(_settings(workspace, fake, postgres_url))) as first:
            done = structured(await first.call_tool("generate_image", {"prompt": "a lighthouse", "quality": "low"}))
        async with Client(build_server(_settings(workspace, fake, postgres_url))) as second:
            found = structured(await second.call_tool("get_job", {"job_id": done["job_id"], "wait_s": 0}))
    assert found["status"] == "done"
    assert [i["id"] for i in found["result"]["images"]] == [i["id"] for i in done["images"]]
