"""The gallery's HTTP side, apart from its routes: JSON and error responses, files streamed from a descriptor
opened like every workspace read, and the guard in front of the app (Host and Origin checks, the token as a
bearer header or the cookie that `?token=` sets, and the security headers on every response)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator, Sequence
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import parse_qsl, urlencode

import anyio.to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import RedirectResponse, Response, StreamingResponse

from easel_mcp.errors import FileTooLarge, WorkspaceError
from easel_mcp.imaging.io import MAX_INPUT_BYTES

if TYPE_CHECKING:
    from pathlib import Path

    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from easel_mcp.workspace import Workspace

LOOPBACK_HOSTS = ("127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*")
COOKIE = "easel_gallery"
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        b" object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def json_response(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False, default=str)
    return Response(body, status_code=status, media_type="application/json", headers={"cache-control": "no-store"})


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


async def file_response(request: Request, workspace: Workspace, path: Path, media_type: str, cache: str) -> Response:
    """The file streamed from a descriptor opened like every workspace read (regular, no links, capped)."""
    try:
        f = await anyio.to_thread.run_sync(lambda: workspace.open_file(path, limit=MAX_INPUT_BYTES, what="the file"))
    except FileTooLarge as e:
        return error_response(413, str(e))
    except WorkspaceError as e:
        return error_response(404, str(e))
    st = os.fstat(f.fileno())
    etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    headers = {"etag": etag, "cache-control": cache}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        f.close()
        return Response(status_code=304, headers=headers)
    headers["content-length"] = str(st.st_size)
    return StreamingResponse(_chunks(f, st.st_size), media_type=media_type, headers=headers)


async def _chunks(f: BinaryIO, size: int) -> AsyncIterator[bytes]:
    try:
        while size > 0:
            chunk = await anyio.to_thread.run_sync(f.read, min(size, 256 * 1024))
            if not chunk:
                return
            size -= len(chunk)
            yield chunk
    finally:
        f.close()


def cookie_value(token: str) -> str:
    """What the session cookie holds: derived from the token, so the cookie never carries the token itself."""
    return hmac.new(token.encode(), b"easel-gallery-session", hashlib.sha256).hexdigest()


def host_allowed(host: str | None, allowed: Sequence[str]) -> bool:
    if not host:
        return False
    return any(
        host == a or (a.endswith(":*") and host.startswith(a[:-1]) and host[len(a) - 1 :].isdigit()) for a in allowed
    )


def cookie_of(headers: Headers, name: str) -> str | None:
    """The value of the request's cookie `name`; None when it has none (a malformed Cookie header is none)."""
    jar = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def wrong_host(headers: Headers, allowed_hosts: Sequence[str] | None) -> Response | None:
    """The 421 for a Host header the gallery does not answer to (DNS rebinding); None: allowed, or no check."""
    if allowed_hosts is None or host_allowed(headers.get("host"), allowed_hosts):
        return None
    return error_response(421, f"this gallery answers only to {', '.join(allowed_hosts)}")


def secured(send: Send) -> Send:
    """`send` with the security headers added to the start of every response."""

    async def send_secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            MutableHeaders(scope=message).raw.extend(SECURITY_HEADERS)
        await send(message)

    return send_secured


def _own_origin(origin: str, allowed_hosts: Sequence[str]) -> bool:
    return origin.startswith("http://") and host_allowed(origin.removeprefix("http://"), allowed_hosts)


class Guard:
    """Host check, token check (header, cookie, or ?token= which sets the cookie) and security headers."""

    def __init__(self, app: ASGIApp, token: str | None, allowed_hosts: Sequence[str] | None) -> None:
        self.app, self.token, self.allowed_hosts = app, token, allowed_hosts
        self.cookie = cookie_value(token) if token else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = Headers(scope=scope)
        response = wrong_host(headers, self.allowed_hosts)
        if response is None:
            response = self._refused(scope, headers)
        await (response or self.app)(scope, receive, secured(send))

    def _refused(self, scope: Scope, headers: Headers) -> Response | None:
        """The answer to a request from another site's page or without the token (None: let it through)."""
        origin = headers.get("origin")
        if self.allowed_hosts is not None and origin and not _own_origin(origin, self.allowed_hosts):
            return error_response(
                403, "pages on other sites may not call this gallery (its Origin is not the gallery's)"
            )
        if not self.token or self._authorized(headers):
            return None
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = next((v for k, v in query if k == "token"), None)
        if given is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            response: Response = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), status_code=303)
            response.set_cookie(COOKIE, self.cookie, httponly=True, samesite="strict", path="/")
            response.headers["cache-control"] = "no-store"
            return response
        response = error_response(
            401,
            "missing or wrong token: open the URL that `easel-mcp gallery` printed, "
            "or send 'Authorization: Bearer <EASEL_AUTH_TOKEN>'",
        )
        response.headers["www-authenticate"] = 'Bearer realm="easel"'
        return response

    def _authorized(self, headers: Headers) -> bool:
        assert self.token
        bearer = headers.get("authorization", "").encode("latin-1")
        if hmac.compare_digest(bearer, f"Bearer {self.token}".encode()):
            return True
        value = cookie_of(headers, COOKIE)
        return value is not None and hmac.compare_digest(value.encode(), self.cookie.encode())
