"""The gallery's web app: the page, its static files and a small read-only JSON API over the index and ledger.

Routes: GET /, /static/..., /api/images, /api/images/{id}, /api/images/{id}/file, /api/images/{id}/thumb,
/api/spend, /api/facets. Ids are checked (12 hex digits) before any disk access, and files are always found
through the index and opened inside the workspace like every workspace read (regular files, no links followed,
size capped), never from request text. The guard in front checks the Host and Origin headers (loopback binds:
DNS-rebinding protection), the token when one is set (Authorization: Bearer, or the cookie that `?token=` sets),
and adds the security headers to every response.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast
from urllib.parse import parse_qsl, urlencode

import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from easel_mcp.budgets import day_bounds, month_bounds, parse_since
from easel_mcp.errors import FileTooLarge, WorkspaceError
from easel_mcp.gallery.thumbs import RENDERS, ensure_thumbnail, snap_size, thumbnail_path
from easel_mcp.imaging.formats import MIME_TYPES, mime_of_file
from easel_mcp.imaging.io import MAX_INPUT_BYTES
from easel_mcp.index import ImageEntry, ImageIndex
from easel_mcp.index_rows import find_entry
from easel_mcp.ledger import Ledger
from easel_mcp.storage.ports import ImageIndexPort, LedgerPort
from easel_mcp.workspace import Workspace

LedgerSource = Callable[[], LedgerPort | None]  # the ledger, or None while there is none (no call made yet)

UI_DIR = Path(__file__).resolve().parent.parent / "ui" / "gallery"
LOOPBACK_HOSTS = ("127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*")
COOKIE = "easel_gallery"
GROUPS = ("day", "model", "tool", "provider")
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
EMPTY_REPORT: dict[str, Any] = {
    "calls": 0,
    "images": 0,
    "cost_usd": 0.0,
    "estimated_usd": 0.0,
    "failed": 0,
    "open": 0,
    "groups": [],
}


class SqliteLedgerFile:
    """The workspace's SQLite ledger, opened once it exists (the single-user gallery's spend)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ledger: Ledger | None = None
        self._lock = threading.Lock()

    def __call__(self) -> LedgerPort | None:
        with self._lock:
            if self._ledger is None and self.path.is_file():
                self._ledger = Ledger.open(self.path)
            return self._ledger


class _Gallery:
    """The request handlers over one workspace (with `user`: that user's folder, and their rows of the ledger);
    all disk and database work runs in worker threads."""

    def __init__(
        self, workspace: Workspace, ledger: LedgerSource, user: str | None = None, index: ImageIndexPort | None = None
    ) -> None:
        self.workspace = workspace
        self.index: ImageIndexPort = index if index is not None else ImageIndex(workspace)
        self._ledger = ledger
        self.user = user
        self._renders = anyio.CapacityLimiter(RENDERS)

    async def page(self, request: Request) -> Response:
        return FileResponse(
            UI_DIR / "index.html", media_type="text/html; charset=utf-8", headers={"cache-control": "no-cache"}
        )

    async def images(self, request: Request) -> Response:
        q = request.query_params
        try:
            since = parse_since(q["since"]) if q.get("since") else None
        except ValueError as e:
            return _error(400, str(e))
        try:
            limit = min(max(int(q.get("limit") or 50), 1), 200)
        except ValueError:
            return _error(400, "limit must be a whole number (1 to 200)")

        def run() -> tuple[list[ImageEntry], str | None, int]:
            self.index.refresh()
            found, cursor = self.index.query(
                text=q.get("q") or None,
                since=since,
                model=q.get("model") or None,
                tool=q.get("tool") or None,
                limit=limit,
                cursor=q.get("cursor") or None,
            )
            return found, cursor, self.index.count()

        try:
            found, cursor, total = await anyio.to_thread.run_sync(run)
        except ValueError as e:
            return _error(400, str(e))
        return _json({"images": [e.to_dict() for e in found], "next_cursor": cursor, "total": total})

    async def image(self, request: Request) -> Response:
        def run() -> dict[str, Any] | None:
            entry = self._entry(request.path_params["image_id"])
            if entry is None:
                return None
            sidecar = self.workspace.read_sidecar(self.workspace.local_file(entry.relative_path))
            return {
                "entry": entry.to_dict(),
                "sidecar": sidecar.shown() if sidecar else None,
                "lineage": self.index.lineage(entry.id),
                "children": [c.id for c in self.index.children(entry.id)],
            }

        found = await anyio.to_thread.run_sync(run)
        return _json(found) if found else _error(404, "no such image")

    async def file(self, request: Request) -> Response:
        path = await anyio.to_thread.run_sync(self._path, request.path_params["image_id"])
        if path is None:
            return _error(404, "no such image")
        media_type = mime_of_file(path.name)
        return await _file(request, self.workspace, path, media_type, "private, max-age=3600")

    async def thumb(self, request: Request) -> Response:
        try:
            size = snap_size(int(request.query_params.get("size") or 256))
        except ValueError:
            return _error(400, "size must be a whole number of pixels")
        image_id = request.path_params["image_id"]
        path = await anyio.to_thread.run_sync(self._path, image_id)
        if path is None:
            return _error(404, "no such image")
        target = thumbnail_path(self.workspace.state_dir, image_id, size)
        try:
            thumb, _ = await anyio.to_thread.run_sync(
                ensure_thumbnail, self.workspace, path, target, size, limiter=self._renders
            )
        except WorkspaceError as e:
            return _error(413 if isinstance(e, FileTooLarge) else 404, str(e))
        except (OSError, ValueError) as e:
            return _error(415, f"cannot make a thumbnail of this image: {e}")
        return await _file(request, self.workspace, thumb, MIME_TYPES["webp"], "private, max-age=86400")

    async def spend(self, request: Request) -> Response:
        by = request.query_params.get("by") or "day"
        if by not in GROUPS:
            return _error(400, f"by must be one of {', '.join(GROUPS)}")
        try:
            since = parse_since(request.query_params.get("since") or "30d")
        except ValueError as e:
            return _error(400, str(e))

        def run() -> dict[str, Any]:
            ledger = self._ledger()
            if ledger is None:
                zero = {**EMPTY_REPORT, "since": None, "by": None}
                return {"report": {**zero, "by": by}, "totals": {"today": zero, "month": zero, "all_time": zero}}
            group = cast(Literal["model", "day", "tool", "provider"], by)
            totals = {
                name: ledger.report(since=start, by=None, user=self.user)
                for name, start in (("today", day_bounds()[0]), ("month", month_bounds()[0]), ("all_time", None))
            }
            return {"report": ledger.report(since=since, by=group, user=self.user), "totals": totals}

        return _json(await anyio.to_thread.run_sync(run))

    async def facets(self, request: Request) -> Response:
        def run() -> dict[str, Any]:
            self.index.refresh()
            return {**self.index.facets(), "total": self.index.count()}

        return _json(await anyio.to_thread.run_sync(run))

    # ----------------------------------------------------------- thread side
    def _entry(self, image_id: str) -> ImageEntry | None:
        try:
            return find_entry(self.index, self.workspace, image_id)  # the one id resolver, with the entry
        except WorkspaceError:  # none, or its file is now a link
            return None

    def _path(self, image_id: str) -> Path | None:
        entry = self._entry(image_id)
        if entry is None:
            return None
        path = self.workspace.local_file(entry.relative_path)  # opened by _file without following links
        return None if path.is_relative_to(self.workspace.state_dir) else path


def _json(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False, default=str)
    return Response(body, status_code=status, media_type="application/json", headers={"cache-control": "no-store"})


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


async def _file(request: Request, workspace: Workspace, path: Path, media_type: str, cache: str) -> Response:
    """The file streamed from a descriptor opened like every workspace read (regular, no links, capped)."""
    try:
        f = await anyio.to_thread.run_sync(lambda: workspace.open_file(path, limit=MAX_INPUT_BYTES, what="the file"))
    except FileTooLarge as e:
        return _error(413, str(e))
    except WorkspaceError as e:
        return _error(404, str(e))
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


def _own_origin(origin: str, allowed_hosts: Sequence[str]) -> bool:
    return origin.startswith("http://") and host_allowed(origin.removeprefix("http://"), allowed_hosts)


class _Guard:
    """Host check, token check (header, cookie, or ?token= which sets the cookie) and security headers."""

    def __init__(self, app: ASGIApp, token: str | None, allowed_hosts: Sequence[str] | None) -> None:
        self.app, self.token, self.allowed_hosts = app, token, allowed_hosts
        self.cookie = cookie_value(token) if token else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                MutableHeaders(scope=message).raw.extend(SECURITY_HEADERS)
            await send(message)

        headers = Headers(scope=scope)
        response: Response | None = None
        origin = headers.get("origin")
        if self.allowed_hosts is not None and not host_allowed(headers.get("host"), self.allowed_hosts):
            response = _error(421, f"this gallery answers only to {', '.join(self.allowed_hosts)}")
        elif self.allowed_hosts is not None and origin and not _own_origin(origin, self.allowed_hosts):
            response = _error(403, "pages on other sites may not call this gallery (its Origin is not the gallery's)")
        elif self.token and not self._authorized(headers):
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            given = next((v for k, v in query if k == "token"), None)
            if given is not None and hmac.compare_digest(given.encode(), self.token.encode()):
                rest = urlencode([(k, v) for k, v in query if k != "token"])
                response = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), status_code=303)
                response.set_cookie(COOKIE, self.cookie, httponly=True, samesite="strict", path="/")
                response.headers["cache-control"] = "no-store"
            else:
                response = _error(
                    401,
                    "missing or wrong token: open the URL that `easel-mcp gallery` printed, "
                    "or send 'Authorization: Bearer <EASEL_AUTH_TOKEN>'",
                )
                response.headers["www-authenticate"] = 'Bearer realm="easel"'
        await (response or self.app)(scope, receive, send_secured)

    def _authorized(self, headers: Headers) -> bool:
        assert self.token
        bearer = headers.get("authorization", "").encode("latin-1")
        if hmac.compare_digest(bearer, f"Bearer {self.token}".encode()):
            return True
        jar = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except CookieError:  # a malformed Cookie header is just no cookie
            return False
        morsel = jar.get(COOKIE)
        return morsel is not None and hmac.compare_digest(morsel.value.encode(), self.cookie.encode())


def build_gallery_app(
    workspace: Workspace, ledger_path: Path, token: str | None, *, allowed_hosts: Sequence[str] | None = LOOPBACK_HOSTS
) -> ASGIApp:
    """The gallery over `workspace` and the ledger at `ledger_path` (which may not exist yet). With `token`,
    every request must carry it; `allowed_hosts` (None: no check) guards against DNS rebinding on loopback."""
    return _Guard(gallery_routes(_Gallery(workspace, SqliteLedgerFile(ledger_path))), token or None, allowed_hosts)


def gallery_routes(gallery: _Gallery) -> Starlette:
    """The page, its static files and the JSON API of one gallery (no guard: the caller puts one in front)."""
    routes = [
        Route("/", gallery.page),
        Mount("/static", StaticFiles(directory=UI_DIR), name="static"),
        Route("/api/images", gallery.images),
        Route("/api/images/{image_id}", gallery.image),
        Route("/api/images/{image_id}/file", gallery.file),
        Route("/api/images/{image_id}/thumb", gallery.thumb),
        Route("/api/spend", gallery.spend),
        Route("/api/facets", gallery.facets),
    ]
    app = Starlette(routes=routes)
    app.state.gallery = gallery
    return app
