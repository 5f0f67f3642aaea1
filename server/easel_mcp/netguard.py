"""Who may talk to Easel's HTTP surfaces (the MCP transports and the gallery), and what their logs show.

- Host/Origin allow-list (DNS-rebinding protection) on every bind that may run without a token, i.e. every
  loopback bind: the Host header must name the bound address and port (or `localhost` with that port), and an
  Origin header, when sent, must be that same origin or one listed in EASEL_CORS_ORIGINS. The SDK switches its
  own check on only for 127.0.0.1, localhost and ::1, with any port; `transport_security` replaces it.
- CORS for browser-based hosts: only the origins listed in EASEL_CORS_ORIGINS (none by default).
- Logs: query strings (session ids, `?token=`, signed URLs) never reach a log line; uvicorn's access log goes to
  stderr, like every other log.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("easel_mcp")

CORS_METHODS = ("GET", "POST", "DELETE")
CORS_HEADERS = ("content-type", "authorization", "mcp-session-id", "mcp-protocol-version", "last-event-id")
CORS_EXPOSED = ("Mcp-Session-Id",)
_ORIGIN = re.compile(r"^https?://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$")
_QUERY = re.compile(r"(/[^\s?\"']*)\?[^\s\"']+")  # a path, then its query


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_origins(value: str) -> list[str]:
    """EASEL_CORS_ORIGINS: comma-separated origins (`https://app.example`, `http://localhost:5173`)."""
    origins: list[str] = []
    for item in value.split(","):
        origin = item.strip().rstrip("/").lower()
        if not origin:
            continue
        if origin == "*" or not _ORIGIN.match(origin):
            raise ValueError(
                f"EASEL_CORS_ORIGINS: {item.strip()!r} is not an origin; list each allowed origin as "
                "scheme://host[:port], e.g. https://app.example,http://localhost:5173"
            )
        origins.append(origin)
    return list(dict.fromkeys(origins))


def bound_hosts(host: str, port: int) -> list[str]:
    """The Host header values that name a bind: its address (and `localhost` on loopback) with its port, any port
    when the port is not known (0), and also without a port on port 80."""
    bare = host.strip("[]").lower()
    with contextlib.suppress(ValueError):
        bare = str(ipaddress.ip_address(bare))
    names = [bare]
    if is_loopback(bare):
        names.append("localhost")
        if bare == "localhost":
            names += ["127.0.0.1", "::1"]
    forms: list[str] = []
    for name in dict.fromkeys(names):
        shown = f"[{name}]" if ":" in name else name
        forms.append(f"{shown}:{port}" if port else f"{shown}:*")
        if port == 80:
            forms.append(shown)
    return forms


def transport_security(
    host: str, port: int, cors_origins: Sequence[str] = (), *, public_url: str | None = None
) -> TransportSecuritySettings | None:
    """The SDK's Host/Origin settings for a bind: exactly its own names and the listed CORS origins on a loopback
    bind (the only kind that may run without a token), plus the host and origin of `public_url` (the address
    clients reach through a balancer in front); None elsewhere (a token is required there)."""
    if not is_loopback(host):
        return None
    from urllib.parse import urlsplit

    from mcp.server.transport_security import TransportSecuritySettings

    hosts = bound_hosts(host, port)
    origins = [f"http://{h}" for h in hosts]
    if public_url:
        parts = urlsplit(public_url)
        if parts.netloc:
            hosts.append(parts.netloc.lower())
            origins.append(f"{parts.scheme}://{parts.netloc}".lower())
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[*origins, *cors_origins],
    )


class HostOriginGuard:
    """Refuses a request whose Host or Origin is not allowed (421 / 403) before any transport sees it, so the SSE
    transport (which raises after answering) never logs a traceback and the connection stays usable."""

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings) -> None:
        from mcp.server.transport_security import TransportSecurityMiddleware

        self.app = app
        self.security = security
        self.check = TransportSecurityMiddleware(security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            from starlette.requests import Request
            from starlette.responses import JSONResponse

            refused = await self.check.validate_request(Request(scope), is_post=False)
            if refused is not None:
                what = "Host" if refused.status_code == 421 else "Origin"
                hosts = ", ".join(self.security.allowed_hosts)
                message = (
                    f"refused: this server answers only to {hosts} (DNS-rebinding protection)"
                    if what == "Host"
                    else "refused: a browser page on another origin may not call this server; its owner can "
                    "allow a browser-based host's origin with EASEL_CORS_ORIGINS"
                )
                body = {"error": f"invalid {what} header", "error_description": message}
                await JSONResponse(body, status_code=refused.status_code)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def with_cors(app: ASGIApp, origins: Sequence[str]) -> ASGIApp:
    """Answer CORS preflights and add the CORS headers for the listed origins only (none: `app` unchanged)."""
    if not origins:
        return app
    from starlette.middleware.cors import CORSMiddleware

    return CORSMiddleware(
        app,
        allow_origins=list(origins),
        allow_methods=list(CORS_METHODS),
        allow_headers=list(CORS_HEADERS),
        expose_headers=list(CORS_EXPOSED),
    )


def redact_query(text: str) -> str:
    """`text` with every query string replaced by `?[redacted]`."""
    return _QUERY.sub(r"\1?[redacted]", text)


class RedactQueries(logging.Filter):
    """Removes query strings from the arguments of a log record (uvicorn's access log carries the request path with
    its query, httpx2 logs every URL it fetched): session ids, `?token=` and signed URLs stay out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        elif isinstance(record.msg, str) and "?" in record.msg and not record.args:  # e.g. the SDK's f-strings
            record.msg = redact_query(record.msg)
        return True


def _redacted(arg: object) -> object:
    if isinstance(arg, (int, float)) or arg is None:
        return arg
    text = str(arg)
    return redact_query(text) if "?" in text and "/" in text else arg


class SkipHealthChecks(logging.Filter):
    """Keeps a load balancer's `GET /healthz` polls (every half second per replica) out of the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (len(args) >= 5 and args[2] == "/healthz" and args[4] == 200)


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging, with the access log on stderr (stdout is never written) and its query strings redacted."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": RedactQueries}, "health": {"()": SkipHealthChecks}}
    for handler in config["handlers"].values():
        handler["stream"] = "ext://sys.stderr"
        handler["filters"] = ["redact"]
    config["handlers"]["access"]["filters"].append("health")
    return config
