"""list_images and get_image as the service answers them, over the caller's image index and workspace: a page of
the index, and one image's details (resolved by the one resolver, its sidecar, parents, children and lineage)
with a small preview; and what the browser gallery's JSON API shows of the same (its pages of index entries, one
image, the file it serves, the filter values). Plain synchronous functions: run them in a worker thread."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from easel_mcp.errors import ImageNotFound, InvalidRequest, WorkspaceError
from easel_mcp.schemas.gallery import ImageDetail, ImageList, ImageSummary
from easel_mcp.service.previews import Shown, image_preview
from easel_mcp.uris import image_uri

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from easel_mcp.index_rows import ImageEntry
    from easel_mcp.storage.ports import ImageIndexPort
    from easel_mcp.workspace import Workspace


def summary(entry: ImageEntry) -> ImageSummary:
    """An index entry as list_images and get_image show it."""
    return ImageSummary(
        id=entry.id,
        relative_path=entry.relative_path,
        uri=image_uri(entry.id),
        created_at=entry.created_at,
        operation=entry.operation,
        prompt=entry.prompt,
        model=entry.model,
        provider=entry.provider,
        width=entry.width,
        height=entry.height,
        format=entry.format,
        bytes=entry.bytes,
        cost_usd=entry.cost_usd,
        parents=list(entry.parents),
    )


def since_arg(text: str | None) -> datetime | None:
    """`since` as people write it (7d, 24h, today, month or a date; empty: None), or InvalidRequest with the
    parser's message."""
    from easel_mcp.budgets import parse_since

    try:
        return parse_since(text) if text else None
    except ValueError as e:
        raise InvalidRequest(str(e), field="since") from e


def image_page(
    index: ImageIndexPort,
    *,
    query: str | None,
    since: datetime | None,
    model: str | None,
    tool: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[ImageEntry], str | None, int]:
    """A page of index entries, newest first (the index brought up to date first), the next cursor and the total;
    InvalidRequest for a cursor the index did not return."""
    index.refresh()
    try:
        entries, next_cursor = index.query(text=query, since=since, model=model, tool=tool, limit=limit, cursor=cursor)
    except ValueError as e:  # a cursor it did not return, or a filter that is not text
        raise InvalidRequest(str(e), field="cursor") from e
    return entries, next_cursor, index.count()


def list_images(
    index: ImageIndexPort,
    *,
    query: str | None = None,
    since: str | None = None,
    model: str | None = None,
    tool: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> ImageList:
    """A page of the caller's images, newest first (the index brought up to date first). `since` is text as
    people write it (7d, 24h, today, month or a date); InvalidRequest for it or a cursor the index did not return."""
    start = since_arg(since)
    entries, next_cursor, total = image_page(
        index, query=query, since=start, model=model, tool=tool, limit=limit, cursor=cursor
    )
    return ImageList(images=[summary(e) for e in entries], next_cursor=next_cursor, total=total)


def image_detail(
    index: ImageIndexPort, workspace: Workspace, image_id: str, *, preview: bool, preview_max_bytes: int
) -> tuple[ImageDetail, Shown | None]:
    """One image's details and, when asked for, its preview (None when the file was deleted since it was indexed:
    the details alone). InvalidRequest naming list_images for an id the caller has no image of."""
    from easel_mcp.index_rows import find_entry

    index.refresh()
    try:  # the one resolver (with an object store: another replica's image is fetched into the local cache)
        entry = find_entry(index, workspace, image_id.strip().lower())
    except ImageNotFound as e:
        raise InvalidRequest(
            f"no image with id {image_id!r} in the workspace {workspace.root}; list_images shows what there is",
            field="id",
        ) from e
    path = workspace.local_file(entry.relative_path)  # read below without following links
    parents = [p for p in (index.get(pid) for pid in entry.parents) if p is not None]
    detail = ImageDetail(
        image=summary(entry),
        path=workspace.result_path(entry.relative_path),
        sidecar=_sidecar(workspace, path),
        parents=[summary(p) for p in parents],
        children=[summary(c) for c in index.children(entry.id)],
        lineage=index.lineage(entry.id),
    )
    if not preview:
        return detail, None
    return detail, image_preview(workspace, path, entry.relative_path, preview_max_bytes)


# ---------------------------------------------------------------- the browser gallery's API


def gallery_entry(index: ImageIndexPort, workspace: Workspace, image_id: str) -> ImageEntry | None:
    """The image with this id as the browser gallery's routes take it (the id as given), by the one resolver;
    None when there is none (an id of another user's image included) or its file became a link."""
    from easel_mcp.index_rows import find_entry

    try:
        return find_entry(index, workspace, image_id)
    except WorkspaceError:
        return None


def gallery_image(index: ImageIndexPort, workspace: Workspace, image_id: str) -> dict[str, Any] | None:
    """One image as /api/images/{id} shows it: its index entry, sidecar, lineage and the ids of its children;
    None for an id the gallery has no image of."""
    entry = gallery_entry(index, workspace, image_id)
    if entry is None:
        return None
    return {
        "entry": entry.to_dict(),
        "sidecar": _sidecar(workspace, workspace.local_file(entry.relative_path)),
        "lineage": index.lineage(entry.id),
        "children": [c.id for c in index.children(entry.id)],
    }


def gallery_file(index: ImageIndexPort, workspace: Workspace, image_id: str) -> Path | None:
    """Where the image with this id is read from (open it without following links), or None: no such image, or
    a path inside the state folder (never served)."""
    entry = gallery_entry(index, workspace, image_id)
    if entry is None:
        return None
    path = workspace.local_file(entry.relative_path)
    return None if path.is_relative_to(workspace.state_dir) else path


def gallery_facets(index: ImageIndexPort) -> dict[str, Any]:
    """The values the gallery filters by (models, tools, ...) and the total, the index brought up to date first."""
    index.refresh()
    return {**index.facets(), "total": index.count()}


def _sidecar(workspace: Workspace, path: Path) -> dict[str, Any] | None:
    """The image's sidecar as get_image and the gallery show it (None: none, or not one Easel can read)."""
    side = workspace.read_sidecar(path)
    return side.shown() if side else None
