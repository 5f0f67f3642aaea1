"""Serving over HTTP (streamable HTTP at /mcp, or SSE): loopback by default, optional bearer token."""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import TYPE_CHECKING, Literal

from easel_mcp.errors import ConfigurationError

if TYPE_CHECKING:
    from mcp.server.streamable_http import EventStore
    from starlette.types import ASGIApp, Receive, Scope, Send

    from easel_mcp.app import EaselServer

HttpTransport = Literal["http", "sse"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    server: EaselServer,
    transport: HttpTransport,
    host: str,
    token: str | None,
    event_store: EventStore | None = None,
) -> ASGIApp:
    """The ASGI app for `transport`, refusing a non-loopback bind without a token. Streamable HTTP is
    resumable (`easel_mcp.resume`), with `event_store` or in memory."""
    if not is_loopback(host) and not token:
        raise ConfigurationError(
            f"refusing to serve on {host} without a token: anyone who can reach this address could spend "
            "your image budget. Set EASEL_AUTH_TOKEN (clients then send 'Authorization: Bearer <token>') "
            "or bind 127.0.0.1."
        )
    # On loopback the SDK enables its Host/Origin checks (DNS-rebinding protection) by itself.
    app: ASGIApp
    from easel_mcp.protocol import JsonRpcGuard
    from easel_mcp.resume import resumable_http_app

    app = (
        server.sse_app(host=host) if transport == "sse" else JsonRpcGuard(resumable_http_app(server, host, event_store))
    )
    return BearerTokenMiddleware(app, token) if token else app


def serve_http(
    server: EaselServer, transport: HttpTransport, host: str, port: int, token: str | None, log_level: str
) -> None:
    import uvicorn

    app = build_http_app(server, transport, host, token)
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower())
