"""Resumable streamable HTTP (SEP-1699): a client whose connection drops during a long call reconnects
with GET + Last-Event-ID and gets the rest of the progress and the result."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import httpx2
import pytest
import uvicorn
from mcp.server.streamable_http import EventId, EventMessage, StreamId
from mcp_types import JSONRPCMessage, JSONRPCRequest, JSONRPCResponse

from easel_mcp.app import build_server
from easel_mcp.http import build_http_app
from easel_mcp.resume import MemoryEventStore
from easel_mcp.settings import Settings
from tests.fakes.openai_images import FakeOpenAIImages

if TYPE_CHECKING:
    from starlette.types import ASGIApp

VERSION = "2025-11-25"
WAIT_S = 60  # a generous bound on events that take well under a second: the suite runs on 2 busy cores


class HeldOpenAI(FakeOpenAIImages):
    """The OpenAI fake, holding every request until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def _handle(self, scope: Any, receive: Any, send: Any, rid: str) -> None:
        self.arrived.set()
        await anyio.to_thread.run_sync(self.release.wait)
        await super()._handle(scope, receive, send, rid)


class SignallingStore(MemoryEventStore):
    """Sets `answered[request id]` once the response to that request is stored."""

    def __init__(self, **kw: int) -> None:
        super().__init__(**kw)
        self.answered: dict[str, threading.Event] = {"3": threading.Event()}

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = await super().store_event(stream_id, message)
        if isinstance(message, JSONRPCResponse) and str(message.id) in self.answered:
            self.answered[str(message.id)].set()
        return event_id


@dataclass
class Sse:
    id: str | None
    retry: int | None
    data: str

    @property
    def message(self) -> dict[str, Any] | None:
        return json.loads(self.data) if self.data else None


def sse_events(response: httpx2.Response) -> Iterator[Sse]:
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if fields:
                retry = fields.get("retry")
                yield Sse(fields.get("id"), int(retry) if retry else None, fields.get("data", ""))
            fields = {}
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        fields[name] = fields[name] + "\n" + value if name == "data" and name in fields else value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def held() -> Iterator[HeldOpenAI]:
    fake = HeldOpenAI()
    fake.start()
    try:
        yield fake
    finally:
        fake.release.set()
        fake.stop()


@contextlib.contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """`app` on a free loopback port (uvicorn in a thread): yields the URL of its /mcp endpoint."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served(workspace_dir: Path, held: HeldOpenAI) -> Iterator[tuple[str, SignallingStore]]:
    settings = Settings(
        workspace=workspace_dir, openai_api_key="sk-test", openai_base_url=held.base_url, retry_base_delay_s=0.01
    )
    store = SignallingStore()
    app = build_http_app(build_server(settings), "http", "127.0.0.1", None, event_store=store)
    with serving(app) as url:
        yield url, store
        held.release.set()


HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _open_session(http: httpx2.Client, url: str) -> dict[str, str]:
    init = JSONRPCRequest(
        jsonrpc="2.0",
        id=1,
        method="initialize",
        params={"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    )
    with http.stream("POST", url, content=init.model_dump_json(by_alias=True), headers=HEADERS) as response:
        events = list(sse_events(response))
        session = response.headers["mcp-session-id"]
    assert events[0].id and events[0].retry == 2000 and events[0].data == ""  # the priming event
    assert events[-1].message and events[-1].message["id"] == 1
    headers = {**HEADERS, "Mcp-Session-Id": session, "MCP-Protocol-Version": VERSION}
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert http.post(url, content=json.dumps(note), headers=headers).status_code == 202
    return headers


CALL = {
    "jsonrpc": "2.0",
    "id": 3,
    "method": "tools/call",
    "params": {"name": "generate_image", "arguments": {"prompt": "a lighthouse"}, "_meta": {"progressToken": "p"}},
}


def test_a_dropped_call_resumes_with_last_event_id(served: tuple[str, SignallingStore], held: HeldOpenAI) -> None:
    url, store = served
    with httpx2.Client(timeout=WAIT_S) as http:
        headers = _open_session(http, url)
        seen: list[Sse] = []
        with http.stream("POST", url, content=json.dumps(CALL), headers=headers) as response:
            for event in sse_events(response):
                seen.append(event)
                if event.message and event.message.get("method") == "notifications/progress":
                    break  # the connection drops here
        priming, progress = seen[0], seen[-1]
        assert priming.id and priming.retry == 2000 and priming.data == ""
        assert progress.id and progress.message and progress.message["params"]["progressToken"] == "p"
        assert held.arrived.wait(WAIT_S)
        held.release.set()
        assert store.answered["3"].wait(WAIT_S)  # the call finished while nobody was listening

        resumed: list[Sse] = []
        get = {"Accept": "text/event-stream", **{k: v for k, v in headers.items() if k != "Content-Type"}}
        with http.stream("GET", url, headers={**get, "Last-Event-ID": progress.id}) as response:
            assert response.status_code == 200
            for event in sse_events(response):
                resumed.append(event)
                if event.message and event.message.get("id") == 3:
                    break
    messages = [e.message for e in resumed if e.message]
    assert all(e.id for e in resumed) and not {e.id for e in resumed} & {e.id for e in seen}
    stages = [m["params"].get("message", "") for m in messages if m.get("method") == "notifications/progress"]
    assert any(s.startswith("writing") for s in stages), stages
    result = messages[-1]["result"]
    assert not result.get("isError") and len(result["structuredContent"]["images"]) == 1
    assert Path(result["structuredContent"]["images"][0]["path"]).is_file()


def test_a_client_that_reconnects_while_the_call_runs_gets_the_result_live(
    served: tuple[str, SignallingStore], held: HeldOpenAI
) -> None:
    url, store = served
    with httpx2.Client(timeout=WAIT_S) as http:
        headers = _open_session(http, url)
        with http.stream("POST", url, content=json.dumps(CALL), headers=headers) as response:
            priming = next(sse_events(response))  # the connection drops right after the priming event
        assert held.arrived.wait(WAIT_S) and not store.answered["3"].is_set()
        get = {"Accept": "text/event-stream", **{k: v for k, v in headers.items() if k != "Content-Type"}}
        assert priming.id
        resumed: list[Sse] = []
        with http.stream("GET", url, headers={**get, "Last-Event-ID": priming.id}) as response:
            for event in sse_events(response):
                resumed.append(event)
                if not event.data:  # the resumed stream's own priming event: it is live from here on
                    held.release.set()
                if event.message and event.message.get("id") == 3:
                    break
    assert resumed[-1].message and resumed[-1].message["result"]["structuredContent"]["images"]
    stages = [e.message["params"].get("message", "") for e in resumed if e.message and "params" in e.message]
    assert any(s == "queued" for s in stages) and any(s.startswith("writing") for s in stages), stages


def test_another_session_cannot_resume_a_stream(served: tuple[str, SignallingStore], held: HeldOpenAI) -> None:
    url, store = served
    held.release.set()
    with httpx2.Client(timeout=WAIT_S) as http:
        mine = _open_session(http, url)
        with http.stream("POST", url, content=json.dumps(CALL), headers=mine) as response:
            first = next(sse_events(response))
            assert first.id
        assert store.answered["3"].wait(WAIT_S)
        theirs = _open_session(http, url)
        get = {"Accept": "text/event-stream", **{k: v for k, v in theirs.items() if k != "Content-Type"}}
        with http.stream("GET", url, headers={**get, "Last-Event-ID": first.id}) as response:
            replayed = [e for e in sse_events(response) if e.data]
    assert replayed == []


@pytest.mark.anyio
async def test_the_memory_store_is_bounded_per_stream_and_in_total() -> None:
    def note(i: int) -> JSONRPCMessage:
        return JSONRPCRequest(jsonrpc="2.0", id=i, method="ping", params={"pad": "x" * 100})

    store = MemoryEventStore(max_events_per_stream=3, max_bytes=10_000)
    ids = [await store.store_event("1", note(i)) for i in range(5)]
    assert store.stored_events == 3
    got: list[EventMessage] = []

    async def collect(event: EventMessage) -> None:
        got.append(event)

    assert await store.replay_events_after(ids[0], collect) is None  # forgotten
    assert await store.replay_events_after(ids[2], collect) == "1"
    assert [e.event_id for e in got] == ids[3:]
    for i in range(200):
        await store.store_event(f"s{i}", note(i))
    assert store.stored_bytes <= 10_000 and store.stored_events < 100
