"""The pixel work the tools' answers need, behind plain functions (run them in a worker thread): previews
of a result's images, one image's preview, and a mask painted in the viewer checked and saved."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from easel_mcp.errors import EaselError, InvalidRequest
from easel_mcp.sizes import format_size

if TYPE_CHECKING:
    from easel_mcp.imaging.preview import PreviewSource
    from easel_mcp.schemas.results import ImageOut, ImageResult
    from easel_mcp.workspace import Workspace

PreviewMode = Literal["auto", "none", "full"]
FULL_PREVIEW_LIMIT = 1024 * 1024  # Claude Desktop refuses results over 1 MiB


@dataclass(frozen=True)
class Shown:
    """An image to send inline: its bytes and MIME type."""

    data: bytes
    mime_type: str


class _Ready:
    """Previews cut from an answer's pixels while its decode check had them (`usable_images`), by image id,
    until the result is shaped: its preview is then an encode, not a second read and decode of the file. A
    few dozen at most (a result never shaped, e.g. a job nobody fetches, falls out); a miss reads the file."""

    LIMIT = 64

    def __init__(self) -> None:
        self._items: OrderedDict[str, PreviewSource] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, images: Sequence[ImageOut], sources: Sequence[PreviewSource | None]) -> None:
        with self._lock:
            for image, source in zip(images, sources, strict=False):
                if source is not None:
                    self._items[image.id] = source
            while len(self._items) > self.LIMIT:
                self._items.popitem(last=False)

    def take(self, image_id: str) -> PreviewSource | None:
        with self._lock:
            return self._items.pop(image_id, None)


_ready = _Ready()
keep_previews = _ready.keep


def result_previews(
    result: ImageResult, mode: PreviewMode, budget_bytes: int, per_image_cap: int, workspace: Workspace
) -> list[tuple[Shown | None, str | None]]:
    """A preview (or none, with a note saying why) per image of `result`, within the byte budget. `workspace` is
    the caller's, where the result was written: each image not already cut (`keep_previews`) is read from its local
    file there (`Workspace.local_file`: with an object store, the cache, fetched when missing) as every workspace
    file is read (a regular file, no link on the way)."""
    from easel_mcp.imaging.errors import ImagingError
    from easel_mcp.imaging.formats import mime_type
    from easel_mcp.imaging.io import MAX_INPUT_BYTES
    from easel_mcp.imaging.preview import encode_preview, make_preview, preview_budget_split

    sources = [_ready.take(image.id) for image in result.images]  # taken whatever the mode: none lingers
    if mode == "none" or not result.images:
        return [(None, None) for _ in result.images]
    out: list[tuple[Shown | None, str | None]] = []
    per_image = min(per_image_cap, preview_budget_split(budget_bytes, len(result.images)))
    full_total = sum(i.bytes for i in result.images)
    for image, source in zip(result.images, sources, strict=True):
        if source is not None and mode == "auto":
            try:
                p = encode_preview(source, per_image)
            except ImagingError as e:
                out.append((None, f"no preview of {image.relative_path}: {e}"))
                continue
            out.append((Shown(p.data, p.mime_type), None))
            continue
        try:
            path = workspace.local_file(image.relative_path)
            data = workspace.read_file(path, limit=MAX_INPUT_BYTES, what=image.relative_path)
        except (OSError, EaselError) as e:  # saved and paid for: the result stands, without this preview
            out.append((None, f"no preview of {image.relative_path}: {e}"))
            continue
        note = None
        if mode == "full":
            if full_total * 4 // 3 <= FULL_PREVIEW_LIMIT:
                out.append((Shown(data, mime_type(image.format)), None))
                continue
            note = (
                f"preview=full: {image.relative_path} is too large to send inline within 1 MiB; a downscaled "
                "preview was sent instead (open the file or read the resource for the original)"
            )
        try:
            p = make_preview(data, per_image, fmt="auto")
        except ImagingError as e:
            out.append((None, f"no preview of {image.relative_path}: {e}"))
            continue
        out.append((Shown(p.data, p.mime_type), note))
    return out


def image_preview(workspace: Workspace, path: Path, what: str, max_bytes: int) -> Shown | None:
    """A small preview of one workspace image; None when it was deleted since it was indexed."""
    from easel_mcp.errors import FileTooLarge, ImageNotFound
    from easel_mcp.imaging.io import MAX_INPUT_BYTES
    from easel_mcp.imaging.preview import make_preview

    try:
        raw = workspace.read_file(path, limit=MAX_INPUT_BYTES, what=what)
    except ImageNotFound:
        return None
    except FileTooLarge as e:
        raise InvalidRequest(f"{e}; call get_image with preview=false for its details", field="preview") from e
    p = make_preview(raw, max_bytes, fmt="auto")
    return Shown(p.data, p.mime_type)


def save_mask(workspace: Workspace, image: str, data: bytes) -> tuple[str, int, int]:
    """Check a painted mask (a PNG of the image's exact size) and save it in masks/; its relative path and size."""
    from easel_mcp.imaging.io import MAX_INPUT_BYTES, open_header, probe

    source = workspace.find_image(image.strip().lower())
    info = probe(data, what="the mask")
    header, _ = open_header(workspace.read_file(source, limit=MAX_INPUT_BYTES), what="the image")
    if info.format != "png":
        raise InvalidRequest("the mask must be a PNG", field="mask_png_base64")
    if (info.width, info.height) != header.size:
        raise InvalidRequest(
            f"the mask is {format_size((info.width, info.height))} but the image is "
            f"{format_size(header.size)}: paint it at the image's size",
            field="mask_png_base64",
        )
    name = f"mask-for-{image}-{secrets.token_hex(4)}.png"
    target = workspace.write_file(("masks", name), data)  # a real folder: never via a link
    return workspace.relative(target), info.width, info.height
