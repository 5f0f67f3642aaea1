"""The gallery's web app: the page, its static files and a small read-only JSON API over the index and ledger.

Routes: GET /, /static/..., /api/images, /api/images/{id}, /api/images/{id}/file, /api/images/{id}/thumb,
/api/spend, /api/facets. Ids are checked (12 hex digits) before any disk access, and files are always found
through the index and opened inside the workspace like every workspace read (regular files, no links followed,
size capped), never from request text. The guard in front checks the Host and Origin headers (loopback binds:
DNS-rebinding protection), the token when one is set (Authorization: Bearer, or the cookie that `?token=` sets),
and adds the security headers to every response.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from easel_mcp.errors import FileTooLarge, InvalidRequest, WorkspaceError
from easel_mcp.gallery.http_util import LOOPBACK_HOSTS, Guard, error_response, file_response, json_response
from easel_mcp.gallery.thumbs import RENDERS, ensure_thumbnail, snap_size, thumbnail_path
from easel_mcp.imaging.formats import MIME_TYPES, mime_of_file
from easel_mcp.index import ImageIndex
from easel_mcp.ledger import Ledger
from easel_mcp.service.gallery import gallery_facets, gallery_file, gallery_image, image_page, since_arg
from easel_mcp.service.spend import LedgerSource, spend_report
from easel_mcp.storage.ports import ImageIndexPort, LedgerPort
from easel_mcp.workspace import Workspace

UI_DIR = Path(__file__).resolve().parent.parent / "ui" / "gallery"


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
            since = since_arg(q.get("since"))
        except InvalidRequest as e:
            return error_response(400, str(e))
        try:
            limit = min(max(int(q.get("limit") or 50), 1), 200)
        except ValueError:
            return error_response(400, "limit must be a whole number (1 to 200)")
        try:
            found, cursor, total = await anyio.to_thread.run_sync(
                lambda: image_page(
                    self.index,
                    query=q.get("q") or None,
                    since=since,
                    model=q.get("model") or None,
                    tool=q.get("tool") or None,
                    limit=limit,
                    cursor=q.get("cursor") or None,
                )
            )
        except InvalidRequest as e:
            return error_response(400, str(e))
        return json_response({"images": [e.to_dict() for e in found], "next_cursor": cursor, "total": total})

    async def image(self, request: Request) -> Response:
        found = await anyio.to_thread.run_sync(
            gallery_image, self.index, self.workspace, request.path_params["image_id"]
        )
        return json_response(found) if found else error_response(404, "no such image")

    async def file(self, request: Request) -> Response:
        path = await anyio.to_thread.run_sync(gallery_file, self.index, self.workspace, request.path_params["image_id"])
        if path is None:
            return error_response(404, "no such image")
        media_type = mime_of_file(path.name)
        return await file_response(request, self.workspace, path, media_type, "private, max-age=3600")

    async def thumb(self, request: Request) -> Response:
        try:
            size = snap_size(int(request.query_params.get("size") or 256))
        except ValueError:
            return error_response(400, "size must be a whole number of pixels")
        image_id = request.path_params["image_id"]
        path = await anyio.to_thread.run_sync(gallery_file, self.index, self.workspace, image_id)
        if path is None:
            return error_response(404, "no such image")
        target = thumbnail_path(self.workspace.state_dir, image_id, size)
        try:
            thumb, _ = await anyio.to_thread.run_sync(
                ensure_thumbnail, self.workspace, path, target, size, limiter=self._renders
            )
        except WorkspaceError as e:
            return error_response(413 if isinstance(e, FileTooLarge) else 404, str(e))
        except (OSError, ValueError) as e:
            return error_response(415, f"cannot make a thumbnail of this image: {e}")
        return await file_response(request, self.workspace, thumb, MIME_TYPES["webp"], "private, max-age=86400")

    async def spend(self, request: Request) -> Response:
        by = request.query_params.get("by") or "day"
        since = request.query_params.get("since") or "30d"
        try:
            report = await anyio.to_thread.run_sync(
                lambda: spend_report(self._ledger, by=by, since=since, user=self.user)
            )
        except InvalidRequest as e:
            return error_response(400, str(e))
        return json_response(report)

    async def facets(self, request: Request) -> Response:
        return json_response(await anyio.to_thread.run_sync(gallery_facets, self.index))


def build_gallery_app(
    workspace: Workspace, ledger_path: Path, token: str | None, *, allowed_hosts: Sequence[str] | None = LOOPBACK_HOSTS
) -> ASGIApp:
    """The gallery over `workspace` and the ledger at `ledger_path` (which may not exist yet). With `token`,
    every request must carry it; `allowed_hosts` (None: no check) guards against DNS rebinding on loopback."""
    return Guard(gallery_routes(_Gallery(workspace, SqliteLedgerFile(ledger_path))), token or None, allowed_hosts)


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
