"""list_images and get_image as the service answers them, over the caller's image index and workspace: a page of
the index, and one image's details (resolved by the one resolver, its sidecar, parents, children and lineage)
with a small preview. Plain synchronous functions: run them in a worker thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

from easel_mcp.errors import ImageNotFound, InvalidRequest
from easel_mcp.schemas.gallery import ImageDetail, ImageList, ImageSummary
from easel_mcp.service.previews import Shown, image_preview
from easel_mcp.uris import image_uri

if TYPE_CHECKING:
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
    from easel_mcp.budgets import parse_since

    try:
        start = parse_since(since) if since else None
    except ValueError as e:
        raise InvalidRequest(str(e), field="since") from e
    index.refresh()
    try:
        entries, next_cursor = index.query(text=query, since=start, model=model, tool=tool, limit=limit, cursor=cursor)
    except ValueError as e:  # a cursor it did not return, or a filter that is not text
        raise InvalidRequest(str(e), field="cursor") from e
    return ImageList(images=[summary(e) for e in entries], next_cursor=next_cursor, total=index.count())


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
    side = workspace.read_sidecar(path)
    detail = ImageDetail(
        image=summary(entry),
        path=workspace.result_path(entry.relative_path),
        sidecar=side.shown() if side else None,
        parents=[summary(p) for p in parents],
        children=[summary(c) for c in index.children(entry.id)],
        lineage=index.lineage(entry.id),
    )
    if not preview:
        return detail, None
    return detail, image_preview(workspace, path, entry.relative_path, preview_max_bytes)
