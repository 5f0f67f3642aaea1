"""Easel as an OAuth 2.1 resource server, against a loopback issuer made by the test: protected-resource
metadata (RFC 9728), 401/403 with WWW-Authenticate, and every claim checked on every request."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from easel_mcp import identity
from easel_mcp.app import build_server
from easel_mcp.errors import ConfigurationError
from easel_mcp.http import build_http_app
from easel_mcp.settings import Settings
from tests.helpers import structured
from tests.infra.easel_http import serving
from tests.infra.oauth_issuer import OAuthIssuer

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass
class Running:
    base: str
    mcp: str
    issuer: OAuthIssuer

    def post(self, token: str | None) -> httpx2.Response:
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx2.post(self.mcp, json=INIT, headers={**HEADERS, **auth}, timeout=30)

    def token(self, subject: str = "alice", **kw: object) -> str:
        return self.issuer.token(subject, audience=self.mcp, **kw)  # type: ignore[arg-type]


@pytest.fixture
def easel(workspace_dir: Path) -> Iterator[Running]:
    with OAuthIssuer() as issuer:

        def settings(url: str) -> Settings:
            return Settings(workspace=workspace_dir, provider="offline", oauth_issuer=issuer.issuer, public_url=url)  # type: ignore[call-arg]

        with serving(settings) as (url, _):
            yield Running(url.removesuffix("/mcp"), url, issuer)


def test_protected_resource_metadata(easel: Running) -> None:
    meta = httpx2.get(f"{easel.base}/.well-known/oauth-protected-resource/mcp").json()
    assert meta["resource"] == easel.mcp
    assert meta["authorization_servers"] == [easel.issuer.issuer]
    assert meta["scopes_supported"] == ["easel"]


def test_no_token_is_401_pointing_at_the_metadata(easel: Running) -> None:
    response = easel.post(None)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert f'resource_metadata="{easel.base}/.well-known/oauth-protected-resource/mcp"' in challenge


def test_a_valid_token_is_accepted_and_keys_are_fetched_once(easel: Running) -> None:
    for subject in ("alice", "bob"):
        assert easel.post(easel.token(subject)).status_code == 200
    assert easel.issuer.metadata_requests == 1 and easel.issuer.jwks_requests == 1


@pytest.mark.parametrize(
    "case",
    ["expired", "wrong audience", "wrong issuer", "stranger's key", "unknown key id", "shared secret", "garbage"],
)
def test_bad_tokens_are_401(easel: Running, case: str) -> None:
    token = {
        "expired": lambda: easel.token(expires_in=-600),
        "wrong audience": lambda: easel.issuer.token("alice", audience="https://other.example/mcp"),
        "wrong issuer": lambda: easel.token(issuer="https://evil.example"),
        "stranger's key": lambda: easel.token(key=OAuthIssuer.stranger_key()),
        "unknown key id": lambda: easel.token(key=OAuthIssuer.stranger_key(), kid="not-published"),
        "shared secret": lambda: jwt.encode(
            {"iss": easel.issuer.issuer, "sub": "alice", "aud": easel.mcp, "exp": 2**31, "scope": "easel"},
            "x" * 32,
            algorithm="HS256",
            headers={"kid": easel.issuer.kid},
        ),
        "garbage": lambda: "not.a.jwt",
    }[case]()
    response = easel.post(token)
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_missing_scope_is_403(easel: Running) -> None:
    response = easel.post(easel.token(scope="profile email"))
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and "resource_metadata=" in challenge


def test_rotated_keys_are_refetched(easel: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    assert easel.post(easel.token()).status_code == 200
    monkeypatch.setattr(identity, "REFETCH_AFTER_S", 0.0)
    easel.issuer.rotate()
    assert easel.post(easel.token()).status_code == 200
    assert easel.issuer.jwks_requests == 2


@pytest.mark.anyio
async def test_an_mcp_client_with_a_token_generates_an_image(easel: Running) -> None:
    headers = {"Authorization": f"Bearer {easel.token()}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(easel.mcp, http_client=http)) as client:
            data = structured(await client.call_tool("generate_image", {"prompt": "a kite", "quality": "low"}))
    assert len(data["images"]) == 1


def test_configuration_errors(workspace_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="EASEL_PUBLIC_URL"):
        build_server(Settings(workspace=workspace_dir, provider="offline", oauth_issuer="https://id.example"))  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="https"):
        build_server(
            Settings(
                workspace=workspace_dir,
                provider="offline",
                oauth_issuer="http://id.example",
                public_url="https://easel.example/mcp",
            )  # type: ignore[call-arg]
        )
    settings = Settings(
        workspace=workspace_dir,
        provider="offline",
        oauth_issuer="https://id.example",
        public_url="https://easel.example/mcp",
        oauth_scopes="easel, images:write",
    )  # type: ignore[call-arg]
    assert settings.oauth_scopes == ["easel", "images:write"]
    server = build_server(settings)
    with pytest.raises(ConfigurationError, match="choose one"):
        build_http_app(server, "http", "127.0.0.1", "s3cret")
    build_http_app(server, "http", "0.0.0.0", None)  # OAuth guards a public bind: no refusal
