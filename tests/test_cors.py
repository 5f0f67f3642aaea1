"""CORS for browser-based MCP hosts (EASEL_CORS_ORIGINS): the listed origins only, preflights answered, the
headers the protocol needs allowed and Mcp-Session-Id exposed; the DNS-rebinding Origin check lets exactly the
listed origins (and the server's own) through."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from easel_mcp.app import build_server
from easel_mcp.http import build_http_app
from easel_mcp.settings import Settings

APP = "https://app.example"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
PROTOCOL_HEADERS = "content-type, authorization, mcp-session-id, mcp-protocol-version, last-event-id"


def _client(workspace: Path, origins: str | None, host: str = "127.0.0.1", token: str | None = None) -> TestClient:
    settings = Settings(workspace=workspace, provider="offline", cors_origins=origins or "")
    app = build_http_app(build_server(settings), "http", host, token, port=8000)
    return TestClient(app, base_url="http://127.0.0.1:8000")


@pytest.fixture
def cors(workspace_dir: Path) -> Iterator[TestClient]:
    with _client(workspace_dir, f"{APP}, http://localhost:5173/") as client:
        yield client


def _preflight(client: TestClient, origin: str, method: str = "POST") -> Any:
    return client.options(
        "/mcp",
        headers={
            "origin": origin,
            "access-control-request-method": method,
            "access-control-request-headers": PROTOCOL_HEADERS,
        },
    )


def test_preflight_from_a_listed_origin(cors: TestClient) -> None:
    for method in ("POST", "GET", "DELETE"):
        r = _preflight(cors, APP, method)
        assert r.status_code in (200, 204), r.text
        headers = r.headers
        assert headers["access-control-allow-origin"] == APP
        assert {m.strip() for m in headers["access-control-allow-methods"].split(",")} >= {"GET", "POST", "DELETE"}
        allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
        assert allowed >= {h.strip() for h in PROTOCOL_HEADERS.split(",")}
    assert _preflight(cors, "http://localhost:5173").headers["access-control-allow-origin"] == "http://localhost:5173"


def test_requests_from_a_listed_origin_get_the_session_header(cors: TestClient) -> None:
    r = cors.post("/mcp", json=INIT, headers={**MCP_HEADERS, "origin": APP})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == APP
    assert "mcp-session-id" in r.headers["access-control-expose-headers"].lower()
    assert r.headers.get("mcp-session-id")


def test_other_origins_are_refused(cors: TestClient) -> None:
    for origin in ("https://evil.example", "https://app.example:8443", "http://app.example", "null"):
        assert _preflight(cors, origin).status_code == 403
        r = cors.post("/mcp", json=INIT, headers={**MCP_HEADERS, "origin": origin})
        assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    own = cors.post("/mcp", json=INIT, headers={**MCP_HEADERS, "origin": "http://127.0.0.1:8000"})
    assert own.status_code == 200  # the server's own origin


def test_no_origin_is_allowed_by_default(workspace_dir: Path) -> None:
    with _client(workspace_dir, None) as client:
        r = _preflight(client, APP)
        assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
        assert client.post("/mcp", json=INIT, headers={**MCP_HEADERS, "origin": APP}).status_code == 403


def test_preflights_need_no_token_but_requests_do(workspace_dir: Path) -> None:
    with _client(workspace_dir, APP, host="0.0.0.0", token="s3cret") as client:
        assert _preflight(client, APP).status_code == 200
        denied = client.post("/mcp", json=INIT, headers={**MCP_HEADERS, "origin": APP})
        assert denied.status_code == 401 and denied.headers["access-control-allow-origin"] == APP  # readable 401
        ok = client.post("/mcp", json=INIT, headers={**MCP_HEADERS, "origin": APP, "authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().cors_origins == []
    monkeypatch.setenv("EASEL_CORS_ORIGINS", " https://App.example/ ,http://localhost:5173,, ")
    assert Settings().cors_origins == ["https://app.example", "http://localhost:5173"]
    for bad in ("*", "app.example", "https://app.example/path"):
        monkeypatch.setenv("EASEL_CORS_ORIGINS", bad)
        with pytest.raises(ValidationError, match="EASEL_CORS_ORIGINS"):
            Settings()
