"""Serving over HTTP (streamable HTTP at /mcp, or SSE): loopback by default, optional bearer token."""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Literal

from easel_mcp.errors import ConfigurationError
from easel_mcp.netguard import HostOriginGuard, is_loopback, transport_security, uvicorn_log_config, with_cors

if TYPE_CHECKING:
    from mcp.server.streamable_http import EventStore
    from starlette.types import ASGIApp, Receive, Scope, Send

    from easel_mcp.app import EaselServer

HttpTransport = Literal["http", "sse"]
log = logging.getLogger("easel_mcp")

__all__ = ["BearerTokenMiddleware", "build_http_app", "is_loopback", "serve_http"]


class BearerTokenMiddleware:
    """Every HTTP request must carry `Authorization: Bearer <token>` (constant-time compare)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            if not hmac.compare_digest(header, self.expected):
                body = json.dumps({"error": "unauthorized", "error_description": "missing or wrong bearer token"})
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="easel"'),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body.encode()})
                return
        await self.app(scope, receive, send)


class GalleryMount:
    """With OAuth, the per-user gallery beside the MCP endpoint: `/gallery/` (through the same balancer, with the
    same tokens); every other path goes to `app`."""

    PREFIX = "/gallery"

    def __init__(self, app: ASGIApp, gallery: ASGIApp) -> None:
        self.app, self.gallery = app, gallery

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == self.PREFIX:
            query = scope.get("query_string", b"").decode("latin-1")
            location = f"{self.PREFIX}/" + (f"?{query}" if query else "")
            headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 308, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
        elif path.startswith(self.PREFIX + "/"):
            await self.gallery({**scope, "root_path": scope.get("root_path", "") + self.PREFIX}, receive, send)
        else:
            await self.app(scope, receive, send)


def team_gallery(server: EaselServer) -> ASGIApp:
    """The per-user gallery of an OAuth deployment, on the studio's workspace and ledger."""
    from easel_mcp.gallery.team import TeamGallery
    from easel_mcp.identity import JwtVerifier, OAuthConfig

    settings = server.studio.settings
    config = OAuthConfig.from_settings(settings)
    assert config is not None
    return TeamGallery(
        server.studio.root_workspace,
        lambda: server.studio.ledger,
        JwtVerifier(config),
        config.scopes,
        secure_cookie=config.public_url.startswith("https://"),
        areas=server.studio.areas,
    )


class HealthCheck:
    """`GET /healthz` answers 200 before any authentication: what a load balancer polls to route around a
    replica that is down. It says nothing but that the process serves HTTP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz" and scope["method"] in ("GET", "HEAD"):
            body = b'{"status":"ok"}'
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body if scope["method"] == "GET" else b""})
            return
        await self.app(scope, receive, send)


def build_http_app(
    server: EaselServer,
    transport: HttpTransport,
    host: str,
    token: str | None,
    *,
    port: int = 0,
    stateless: bool = False,
    event_store: EventStore | None = None,
) -> ASGIApp:
    """The ASGI app for `transport`, refusing a non-loopback bind without a token (or OAuth). A loopback bind (the
    only kind that may run without one) answers only to its own Host/Origin (`port` 0: not known yet, any port)
    and, behind a balancer, to the public URL's. Streamable HTTP is resumable (`easel_mcp.resume`), with
    `event_store` or in memory, unless `stateless` (then any replica answers any request)."""
    oauth = server.settings.auth is not None
    if oauth and token:
        raise ConfigurationError(
            "both EASEL_AUTH_TOKEN and EASEL_OAUTH_ISSUER are set: choose one (OAuth for a team, the token for "
            "one person)."
        )
    if not is_loopback(host) and not token and not oauth:
        raise ConfigurationError(
            f"refusing to serve on {host} without a token: anyone who can reach this address could spend "
            "your image budget. Set EASEL_AUTH_TOKEN (clients then send 'Authorization: Bearer <token>'), "
            "configure OAuth (EASEL_OAUTH_ISSUER and EASEL_PUBLIC_URL), or bind 127.0.0.1."
        )
    cors = server.studio.settings.cors_origins
    security = transport_security(host, port, cors, public_url=server.studio.settings.public_url)
    app: ASGIApp
    if stateless and transport != "http":
        raise ConfigurationError("--stateless is for --transport http (streamable HTTP)")
    from easel_mcp.protocol import JsonRpcGuard
    from easel_mcp.resume import resumable_http_app

    if transport == "sse":
        app = server.sse_app(host=host, transport_security=security)
    else:
        stream = resumable_http_app(server, host, event_store, stateless=stateless, security=security)
        app = JsonRpcGuard(stream, requires_credentials=oauth)
    app = with_cors(BearerTokenMiddleware(app, token) if token else app, cors)
    if oauth:
        app = GalleryMount(app, team_gallery(server))
    return HealthCheck(HostOriginGuard(app, security) if security else app)


def warm_up(server: EaselServer) -> None:
    """Before the port opens, register the tools and import what the first call would otherwise import (the
    upstream's SDK among them): most of a second of one core, paid by the first person to call a fresh replica (a
    replica the balancer sees healthy should answer its first call as fast as the next). The stdio server warms up
    in the background after the handshake instead (warmup.py): there, answering `initialize` fast matters more."""
    from easel_mcp.warmup import prepare_imports

    server.ensure_tools()
    prepare_imports("openai")


def serve_http(
    server: EaselServer,
    transport: HttpTransport,
    host: str,
    port: int,
    token: str | None,
    log_level: str,
    *,
    stateless: bool = False,
) -> None:
    import uvicorn

    app = build_http_app(server, transport, host, token, port=port, stateless=stateless)
    warm_up(server)
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), log_config=uvicorn_log_config())
