"""The server as hosts run it: a stdio subprocess and streamable HTTP / SSE on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from easel_mcp.app import build_server
from easel_mcp.errors import ConfigurationError
from easel_mcp.http import build_http_app
from easel_mcp.settings import Settings
from tests.helpers import structured


def _server_env(workspace: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "OPENAI_"))}
    env.update(EASEL_WORKSPACE=str(workspace), EASEL_PROVIDER="offline", PYTHONUNBUFFERED="1")
    return env


def test_stdio_writes_nothing_but_json_rpc_to_stdout(workspace_dir: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "easel_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_server_env(workspace_dir),
        cwd="/",
    )
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "generate_image", "arguments": {"prompt": "a boat", "quality": "low"}},
        },
    ]
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in messages))
    proc.stdin.flush()
    lines: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if json.loads(line).get("id") == 3:
            break
    out, err = proc.communicate(timeout=30)  # closes stdin: the server exits
    lines += out.splitlines(keepends=True)
    decoded = [json.loads(line) for line in lines if line.strip()]
    assert all(m.get("jsonrpc") == "2.0" for m in decoded)
    by_id = {m.get("id"): m for m in decoded}
    assert by_id[1]["result"]["serverInfo"]["name"] == "easel"
    assert {t["name"] for t in by_id[2]["result"]["tools"]} >= {"generate_image", "edit_image"}
    assert by_id[3]["result"]["structuredContent"]["images"][0]["width"] == 1024
    assert b"Easel ready" in err and str(workspace_dir).encode() in err and b"provider offline" in err


@pytest.mark.anyio
async def test_stdio_through_the_sdk_client(workspace_dir: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "easel_mcp", "serve"], env=_server_env(workspace_dir)
    )
    async with Client(params) as client:
        data = structured(await client.call_tool("generate_image", {"prompt": "kite", "size": "portrait"}))
    assert data["images"][0]["height"] == 1536


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server(offline_settings: Settings, request: pytest.FixtureRequest) -> Iterator[str]:
    transport, token = getattr(request, "param", ("http", "s3cret"))
    port = _free_port()
    app = build_http_app(build_server(offline_settings), transport, "127.0.0.1", token)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.mark.anyio
async def test_streamable_http_with_token(http_server: str) -> None:
    async with httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret"}, timeout=30) as http:
        async with Client(streamable_http_client(f"{http_server}/mcp", http_client=http)) as client:
            data = structured(await client.call_tool("generate_image", {"prompt": "x", "quality": "low"}))
            read = await client.read_resource(data["images"][0]["uri"])
    assert read.contents[0].mime_type == "image/png"


def test_http_refuses_missing_or_wrong_token_and_bad_host(http_server: str) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    url = f"{http_server}/mcp"
    assert httpx2.post(url, json=body, headers=headers).status_code == 401
    wrong = httpx2.post(url, json=body, headers={**headers, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "bearer" in wrong.headers["www-authenticate"].lower()
    ok = {**headers, "Authorization": "Bearer s3cret"}
    assert httpx2.post(url, json=body, headers={**ok, "Host": "evil.example"}).status_code == 421
    assert httpx2.post(url, json=body, headers={**ok, "Origin": "http://evil.example"}).status_code == 403
    assert httpx2.post(url, json=body, headers=ok).status_code == 200


@pytest.mark.parametrize("http_server", [("sse", None)], indirect=True)
def test_sse_endpoint_answers_on_loopback_without_token(http_server: str) -> None:
    with httpx2.stream("GET", f"{http_server}/sse", timeout=10) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:"):
                assert "/messages/" in line
                break


def test_non_loopback_bind_without_token_is_refused(offline_settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="EASEL_AUTH_TOKEN"):
        build_http_app(build_server(offline_settings), "http", "0.0.0.0", None)
    build_http_app(build_server(offline_settings), "http", "0.0.0.0", "tok")


def test_cli_refuses_non_loopback_without_token(workspace_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "easel_mcp", "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "1"],
        env=_server_env(workspace_dir),
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 2 and b"EASEL_AUTH_TOKEN" in proc.stderr and proc.stdout == b""
