"""Serving over HTTP (streamable HTTP at /mcp, or SSE): loopback by default, optional bearer token."""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Literal

from easel_mcp.errors import ConfigurationError
from easel_mcp.netguard import HostOriginGuard, is_loopback, transport_security, uvicorn_log_config, with_cors

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from easel_mcp.app import EaselServer

HttpTransport = Literal["http", "sse"]

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


def build_http_app(
    server: EaselServer, transport: HttpTransport, host: str, token: str | None, *, port: int = 0
) -> ASGIApp:
    """The ASGI app for `transport`, refusing a non-loopback bind without a token. A loopback bind (the only kind
    that may run without one) answers only to its own Host/Origin (`port` 0: not known yet, any port)."""
    if not is_loopback(host) and not token:
        raise ConfigurationError(
            f"refusing to serve on {host} without a token: anyone who can reach this address could spend "
            "your image budget. Set EASEL_AUTH_TOKEN (clients then send 'Authorization: Bearer <token>') "
            "or bind 127.0.0.1."
        )
    cors = server.studio.settings.cors_origins
    security = transport_security(host, port, cors)
    app: ASGIApp
    if transport == "sse":
        app = server.sse_app(host=host, transport_security=security)
    else:
        app = server.streamable_http_app(host=host, transport_security=security)
    app = with_cors(BearerTokenMiddleware(app, token) if token else app, cors)
    return HostOriginGuard(app, security) if security else app


def serve_http(
    server: EaselServer, transport: HttpTransport, host: str, port: int, token: str | None, log_level: str
) -> None:
    import uvicorn

    app = build_http_app(server, transport, host, token, port=port)
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), log_config=uvicorn_log_config())
