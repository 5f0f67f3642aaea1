"""For the Tasks tests: an offline provider whose answers wait for the test, Easel over HTTP on
loopback, and raw JSON-RPC requests on the 2026-07-28 wire."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
import httpx2
import uvicorn

from easel_mcp.app import build_server
from easel_mcp.http import build_http_app
from easel_mcp.settings import Settings
from easel_mcp.studio import Studio, open_studio

TASKS = "io.modelcontextprotocol/tasks"
MODERN = "2026-07-28"
# Each wait below is for something the test itself triggers; the bound only stops a broken run.
STUCK_S = 60


class Gate:
    """Holds every offline image call until `release()` (thread-safe: the server may run in another
    thread); `entered` is set when a call reached the provider."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self.entered = threading.Event()

    def release(self) -> None:
        self._open.set()

    async def wait(self) -> None:
        self.entered.set()
        await anyio.to_thread.run_sync(self._open.wait, abandon_on_cancel=True)


def gated_studio(settings: Settings, gate: Gate, fail: Exception | None = None) -> Studio:
    """A studio whose offline provider waits for `gate` (and then raises `fail`, if given)."""
    studio = open_studio(settings)
    provider = studio.provider("offline")
    real = provider.generate

    async def generate(request: Any) -> Any:
        await gate.wait()
        if fail is not None:
            raise fail
        return await real(request)

    provider.generate = generate  # type: ignore[method-assign]
    return studio


@contextmanager
def http_easel(settings: Settings, studio: Studio | None = None) -> Iterator[str]:
    """Easel's streamable HTTP app on a free loopback port; yields the /mcp URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = build_http_app(build_server(settings, studio), "http", "127.0.0.1", None)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STUCK_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "Easel did not start serving HTTP"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(STUCK_S)


def rpc(
    url: str,
    method: str,
    params: dict[str, Any],
    *,
    tasks: bool = True,
    name: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """One JSON-RPC request on the 2026-07-28 wire (capabilities in `_meta`, routing headers); the
    JSON-RPC response object."""
    capabilities: dict[str, Any] = {"extensions": {TASKS: {}}} if tasks else {}
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}
    headers = {
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": MODERN,
        "mcp-method": method,
    }
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    routed = name if name is not None else params.get("taskId", params.get("name"))
    if routed is not None:
        headers["mcp-name"] = routed
    response = httpx2.post(url, json=body, headers=headers, timeout=STUCK_S)
    if "event-stream" in response.headers.get("content-type", ""):
        events = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        return json.loads([e for e in events if e][-1])  # type: ignore[no-any-return]
    return response.json()  # type: ignore[no-any-return]


def same_call(result: dict[str, Any]) -> dict[str, Any]:
    """A tool result with what differs between two identical calls (image and job ids, timing)
    replaced, so two results of the same call compare equal."""
    text = json.dumps(result, sort_keys=True)
    data = result.get("structuredContent") or {}
    for image in data.get("images", []):
        text = text.replace(image["id"], "IMAGE")
    if data.get("job_id"):
        text = text.replace(data["job_id"], "JOB")
    text = re.sub(r'(elapsed_s\\*": ?)[0-9.]+', r"\g<1>0", text)
    return json.loads(text)  # type: ignore[no-any-return]


def poll(
    url: str,
    task_id: str,
    *,
    until: frozenset[str] = frozenset({"completed", "failed", "cancelled"}),
    token: str | None = None,
) -> dict[str, Any]:
    """Poll `tasks/get` as a client does until the task's status is in `until`; the last answer.
    (The job runs in the server's thread, so the test cannot await its event directly.)"""
    deadline = time.monotonic() + STUCK_S
    while True:
        answer = rpc(url, "tasks/get", {"taskId": task_id}, token=token)
        if answer["result"]["status"] in until:
            return answer["result"]  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, answer
        time.sleep(0.02)
