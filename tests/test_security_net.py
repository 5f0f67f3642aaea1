"""Network security (issue 13, items 4, 13, 14; issue 16's Host/Origin items).

- Every bind that may run without a token (every loopback bind, also 127.0.0.2: Linux routes all of 127/8 to lo)
  answers only to its own host:port and origin, on streamable HTTP, SSE and the gallery; the printed URL works.
- The SSE transport refuses a bad Host/Origin without a traceback and the keep-alive connection stays usable.
- URL inputs and gateway URL answers: IPv4 addresses embedded in IPv6 ones are checked, the connection goes to the
  address that was checked (no second lookup), the gateway's exemption is its exact origin only.
- No log line of any HTTP surface carries a query string (tokens, session ids, signed URLs).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpcore2
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from easel_mcp.app import build_server
from easel_mcp.cli import configure_logging
from easel_mcp.errors import UpstreamUnavailable
from easel_mcp.http import build_http_app
from easel_mcp.netguard import RedactQueries, bound_hosts, transport_security
from easel_mcp.providers import download
from easel_mcp.providers.compatible import CompatibleProvider
from easel_mcp.providers.download import ImageDownloader, Refused
from easel_mcp.settings import Settings
from tests.fakes.gateway import FakeGateway
from tests.helpers import error_text, png, structured

HOST = "127.0.0.2"  # loopback, but not one of the three names the SDK protects by itself
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
# Start-up of a server process under load (2 busy cores): generous, about 10x the usual 2 s.
START_TIMEOUT_S = 30


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any, host: str, port: int) -> Iterator[str]:
    """Run `app` on host:port in a thread (log_config=None: uvicorn's records reach the root logger and caplog)."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "the server did not start"
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --------------------------------------------------------------- item 4: Host/Origin on every tokenless bind


def test_the_allow_list_is_the_bound_host_and_port() -> None:
    assert bound_hosts("127.0.0.2", 8000) == ["127.0.0.2:8000", "localhost:8000"]
    assert bound_hosts("[::1]", 80) == ["[::1]:80", "[::1]", "localhost:80", "localhost"]
    assert bound_hosts("localhost", 5) == ["localhost:5", "127.0.0.1:5", "[::1]:5"]
    assert bound_hosts("127.0.0.1", 0) == ["127.0.0.1:*", "localhost:*"]  # port not known yet
    security = transport_security("127.0.0.2", 8000, ["https://app.example"])
    assert security is not None and security.enable_dns_rebinding_protection
    assert security.allowed_origins == ["http://127.0.0.2:8000", "http://localhost:8000", "https://app.example"]
    assert transport_security("0.0.0.0", 8000) is None  # not loopback: a token is required there


@pytest.mark.anyio
async def test_streamable_http_on_another_loopback_address_checks_host_and_origin(offline_settings: Settings) -> None:
    port = _free_port(HOST)
    app = build_http_app(build_server(offline_settings), "http", HOST, None, port=port)
    with serving(app, HOST, port) as base:
        async with httpx2.AsyncClient(timeout=30) as http:
            url = f"{base}/mcp"
            evil = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Host": "evil.example"})
            assert evil.status_code == 421 and "DNS-rebinding" in evil.text
            other_port = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Host": f"{HOST}:{port + 1}"})
            assert other_port.status_code == 421
            page = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Origin": "http://evil.example"})
            assert page.status_code == 403 and "EASEL_CORS_ORIGINS" in page.text
            own = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Origin": base})
            assert own.status_code == 200
            async with Client(streamable_http_client(url, http_client=http)) as client:
                data = structured(await client.call_tool("generate_image", {"prompt": "x", "quality": "low"}))
    assert data["images"][0]["width"] == 1024


@pytest.mark.parametrize("host", ["127.0.0.1", HOST])
def test_sse_refuses_bad_host_and_origin_without_traceback_and_keeps_the_connection(
    offline_settings: Settings, host: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port(host)
    app = build_http_app(build_server(offline_settings), "sse", host, None, port=port)
    caplog.set_level(logging.INFO)
    with serving(app, host, port), socket.create_connection((host, port), timeout=30) as conn:
        reader = conn.makefile("rb")
        for bad, status in (("Host: evil.example", b"421"), (f"Host: {host}:{port}\r\nOrigin: http://evil.ex", b"403")):
            conn.sendall(f"GET /sse HTTP/1.1\r\n{bad}\r\n\r\n".encode())
            head = _read_head(reader)
            assert head.split(b" ")[1] == status, head
            length = int(next(v for k, v in _headers(head) if k == b"content-length"))
            reader.read(length)
        # the same connection still serves the stream
        conn.sendall(f"GET /sse HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        head = _read_head(reader)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"event: endpoint" in reader.readline() + reader.readline()
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    assert not any("Exception in ASGI application" in r.getMessage() for r in caplog.records)


def _read_head(reader: Any) -> bytes:
    lines = []
    while (line := reader.readline()) not in (b"\r\n", b""):
        lines.append(line)
    return b"".join(lines)


def _headers(head: bytes) -> list[tuple[bytes, bytes]]:
    pairs = [line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line]
    return [(k.strip().lower(), v.strip()) for k, v in pairs]


# ------------------------------------------------------------------------- real processes: CLI and gallery


@contextmanager
def process(args: list[str], env: dict[str, str], ready: str) -> Iterator[tuple[list[str], subprocess.Popen[str]]]:
    """Start `python args...`; wait (an event: a stderr line containing `ready`) until it serves. Yields the stderr
    lines so far (the list keeps growing) and the process; at the end stops it and checks stdout stayed empty."""
    proc = subprocess.Popen(
        [sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/"
    )
    assert proc.stderr is not None
    stream = proc.stderr
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    reader = threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not any(ready in line for line in seen):
            assert time.monotonic() < deadline and proc.poll() is None, "did not start:\n" + "".join(seen)
            with suppress(queue.Empty):
                seen.append(lines.get(timeout=0.5))
        yield seen, proc
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        reader.join(timeout=10)
        while not lines.empty():
            seen.append(lines.get())
        assert out == "", "stdout was written: " + out


def _env(workspace: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "OPENAI_"))}
    env.update(EASEL_WORKSPACE=str(workspace), EASEL_PROVIDER="offline", PYTHONUNBUFFERED="1", **extra)
    return env


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_cli_serve_on_127_0_0_2_checks_host_and_logs_no_query(workspace_dir: Path, transport: str) -> None:
    port = _free_port(HOST)
    args = ["-m", "easel_mcp", "serve", "--transport", transport, "--host", HOST, "--port", str(port)]
    env = _env(workspace_dir, EASEL_LOG_LEVEL="DEBUG")
    with process(args, env, "Uvicorn running") as (stderr, _):
        base = f"http://{HOST}:{port}"
        if transport == "http":
            url = f"{base}/mcp"
            assert httpx2.post(url, json=INIT, headers={**MCP_HEADERS, "Host": "evil.example"}).status_code == 421
            page = httpx2.post(url, json=INIT, headers={**MCP_HEADERS, "Origin": "http://evil.example"})
            assert page.status_code == 403
            assert httpx2.post(url, json=INIT, headers=MCP_HEADERS).status_code == 200
            assert httpx2.post(f"{url}?token=leaky-secret", json=INIT, headers=MCP_HEADERS).status_code == 200
            expected = '"POST /mcp?[redacted] HTTP/1.1" 200'
        else:
            assert httpx2.get(f"{base}/sse", headers={"Host": "evil.example"}).status_code == 421
            assert httpx2.get(f"{base}/sse", headers={"Origin": "http://evil.example"}).status_code == 403
            with httpx2.stream("GET", f"{base}/sse?token=leaky-secret", timeout=30) as stream:
                assert stream.status_code == 200
                endpoint = next(line for line in stream.iter_lines() if line.startswith("data:"))
            session = endpoint.split("session_id=", 1)[1]
            expected = '"GET /sse?[redacted] HTTP/1.1" 200'
    log = "".join(stderr)
    assert expected in log, log
    assert "leaky-secret" not in log
    if transport == "sse":
        assert f"session_id={session}" not in log, log  # the SDK logs the endpoint URL at DEBUG


@pytest.mark.parametrize("token", [None, "s3cret-token/with+chars"])
def test_gallery_on_127_0_0_2_answers_its_printed_url_only(workspace_dir: Path, token: str | None) -> None:
    port = _free_port(HOST)
    code = f"import sys; from easel_mcp.gallery.cli import run_gallery; sys.exit(run_gallery({HOST!r}, {port}, False))"
    env = _env(workspace_dir, EASEL_LOG_LEVEL="DEBUG", **({"EASEL_AUTH_TOKEN": token} if token else {}))
    with process(["-c", code], env, "startup complete") as (stderr, _):
        printed = next(line for line in stderr if "open http" in line).split("open ", 1)[1].strip()
        assert printed.startswith(f"http://{HOST}:{port}/")
        base = f"http://{HOST}:{port}"
        with httpx2.Client() as browser:
            page = browser.get(printed, follow_redirects=True)
            assert page.status_code == 200 and "Easel gallery" in page.text
            assert browser.get(f"{base}/api/facets", headers={"Host": "evil.example"}).status_code == 421
            assert browser.get(f"{base}/api/facets", headers={"Origin": "http://evil.example"}).status_code == 403
            assert browser.get(f"{base}/api/facets", headers={"Origin": base}).status_code == 200
            assert browser.get(f"{base}/api/images?q=kite").status_code == 200
    access = [line for line in stderr if "GET /" in line]
    assert any("/api/images?[redacted]" in line for line in access), "".join(stderr)
    if token:
        assert [line for line in stderr if "s3cret" in line] == [next(li for li in stderr if "open http" in li)]


# ---------------------------------------------------------------------------- item 14: no query in any log


def test_fetched_urls_are_logged_without_their_query(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO")
        logging.getLogger("httpx2").info(
            'HTTP Request: %s %s "%s %d %s"',
            "GET",
            httpx2.URL("https://cdn.example/img.png?X-Amz-Signature=abc123"),
            "HTTP/1.1",
            200,
            "OK",
        )
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    err = capsys.readouterr().err
    assert "https://cdn.example/img.png?[redacted]" in err and "abc123" not in err


def test_the_redacting_filter_keeps_everything_but_the_query() -> None:
    record = logging.LogRecord(
        "uvicorn.access", 20, "", 0, '%s - "%s %s HTTP/%s" %d', ("1.2.3.4:5", "GET", "/a?token=x", "1.1", 200), None
    )
    assert RedactQueries().filter(record)
    assert record.getMessage() == '1.2.3.4:5 - "GET /a?[redacted] HTTP/1.1" 200'


# ------------------------------------------------------------------ item 13: URL inputs and gateway answers


def _resolver(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[list[str]]]) -> list[str]:
    """Fake DNS: each host answers its lists in turn (the last one repeats); returns the names looked up."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        if host.replace(".", "").isdigit() or ":" in host:
            return [host]  # an address literal: no lookup
        asked.append(host)
        turns = answers.get(host, [["93.184.215.14"]])
        return turns[min(asked.count(host), len(turns)) - 1]

    monkeypatch.setattr(download, "_addresses", resolve)
    return asked


@pytest.mark.anyio
@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:7",  # NAT64 of 10.0.0.7
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
        "64:ff9b:1::a00:7",  # local-use NAT64, /96 form
        "64:ff9b:1:a00:0:700::",  # local-use NAT64, /48 form of 10.0.0.7 (RFC 6052: bits 64-71 skipped)
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::",  # 6to4 of 192.168.1.1
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::a00:7",  # IPv4-compatible 10.0.0.7
        "::ffff:a9fe:a9fe",  # IPv4-mapped 169.254.169.254
    ],
)
async def test_ipv6_forms_embedding_a_private_ipv4_are_refused(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    _resolver(monkeypatch, {"images.example": [[address]]})
    d = ImageDownloader(gateway_url="", gateway_headers={}, provider="inputs")
    with pytest.raises(Refused, match="non-public address"):
        await d._check("https://images.example/cat.png")


@pytest.mark.anyio
@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700::1111"])
async def test_ipv6_forms_of_public_addresses_pass(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    _resolver(monkeypatch, {"images.example": [[address]]})
    d = ImageDownloader(gateway_url="", gateway_headers={}, provider="inputs")
    assert await d._check("https://images.example/cat.png") == {}


@pytest.mark.anyio
async def test_an_input_url_resolving_to_nat64_of_a_private_address_is_refused(
    workspace_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _resolver(monkeypatch, {"images.example": [["64:ff9b::a00:7"]]})
    settings = Settings(workspace=workspace_dir, provider="offline", allow_urls=True)
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("edit_image", {"prompt": "x", "images": ["https://images.example/cat.png"]})
    assert "non-public address (64:ff9b::a00:7)" in error_text(result)


class _Recorder(httpcore2.AsyncNetworkBackend):
    """Where connections go: records the TCP address and the TLS server name, then stops."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore2.AsyncNetworkStream:
        self.calls.append(("tcp", host, str(port)))
        return _TlsRecorder(self.calls)


class _TlsRecorder(httpcore2.AsyncNetworkStream):
    def __init__(self, calls: list[tuple[str, ...]]) -> None:
        self.calls = calls

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> Any:
        self.calls.append(("tls", str(server_hostname)))
        raise httpcore2.ConnectError("the test stops here")

    async def aclose(self) -> None:
        pass


@pytest.mark.anyio
async def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    # A rebinding DNS server: public for the check, private for any later lookup.
    asked = _resolver(monkeypatch, {"images.example": [["93.184.215.14"], ["10.0.0.7"]]})
    recorder = _Recorder()
    d = ImageDownloader(gateway_url="", gateway_headers={}, provider="inputs", network_backend=recorder)
    try:
        with pytest.raises(UpstreamUnavailable, match="ConnectError"):
            await d.fetch("https://images.example/cat.png")
    finally:
        await d.aclose()
    assert asked == ["images.example"]  # resolved once
    assert recorder.calls == [("tcp", "93.184.215.14", "443"), ("tls", "images.example")]  # SNI keeps the name


@pytest.mark.anyio
async def test_gateway_downloads_keep_the_host_name_and_connect_to_the_resolved_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeGateway() as gateway:
        port = gateway.origin.rsplit(":", 1)[1]
        _resolver(monkeypatch, {"gateway.test": [["127.0.0.1"]]})  # the name exists only in the fake DNS
        gateway.files["x.png"] = data = png((8, 8))
        d = ImageDownloader(
            gateway_url=f"http://gateway.test:{port}/v1", gateway_headers={"Authorization": "Bearer k"}, provider="c"
        )
        try:
            assert await d.fetch(f"http://gateway.test:{port}/files/x.png") == data
        finally:
            await d.aclose()
    [got] = gateway.downloads
    assert got.headers["host"] == f"gateway.test:{port}" and got.headers["authorization"] == "Bearer k"


@pytest.mark.anyio
async def test_the_gateway_exemption_is_its_exact_origin_only(monkeypatch: pytest.MonkeyPatch) -> None:
    _resolver(monkeypatch, {})
    d = ImageDownloader(gateway_url="http://127.0.0.1:8080/v1", gateway_headers={"X-Key": "k"}, provider="compatible")
    assert await d._check("http://127.0.0.1:8080/files/a.png") == {"X-Key": "k"}
    with pytest.raises(Refused, match="only https URLs are fetched from hosts other than the gateway's"):
        await d._check("http://127.0.0.1:9090/files/a.png")  # same host, another port
    with pytest.raises(Refused, match="only https URLs are fetched from hosts other than the gateway's"):
        await d._check("http://127.0.0.1/files/a.png")  # same host, port 80
    with pytest.raises(Refused, match="not a valid URL"):
        await d._check("https://images.example:99999/a.png")
    for url in ("https://127.0.0.1:8080/files/a.png", "https://127.0.0.1:9443/files/a.png"):  # another scheme
        with pytest.raises(Refused, match=r"resolves to a non-public address \(127.0.0.1\)"):
            await d._check(url)


@pytest.mark.anyio
async def test_a_gateway_url_answer_on_another_port_of_its_host_is_refused() -> None:
    with FakeGateway() as gateway, FakeGateway() as other:
        other.files["x.png"] = png((8, 8))
        gateway.script.append(_url_answer(f"{other.origin}/files/x.png"))  # 127.0.0.1, another port
        p = CompatibleProvider(base_url=gateway.base_url, api_key="sk-test")
        try:
            with pytest.raises(UpstreamUnavailable, match="other than the gateway's own origin"):
                await p.generate(_gen())
        finally:
            await p.aclose()
    assert other.downloads == []


def _url_answer(url: str) -> Any:
    from tests.fakes.openai_wire import Scripted

    return Scripted(json={"created": 1700000000, "data": [{"url": url}]})


def _gen() -> Any:
    from easel_mcp.providers.base import GenerateRequest

    return GenerateRequest(model="gpt-image-1.5", prompt="a lighthouse", size="1024x1024", quality="low")
