"""Thumbnails for the gallery: made once, cached at <workspace>/.easel/thumbs/<id>-<size>.webp.

A cached thumbnail is used while it is newer than its image. Images over the tool inputs' pixel cap are
refused before decoding, and the gallery renders at most RENDERS thumbnails at a time: memory stays bounded.
Big images are shrunk with Pillow's `draft` (JPEG: decode at 1/2, 1/4 or 1/8 scale) and `reduce` (integer box
reduction) before the final resample, so a 4096-pixel PNG costs a fraction of a full-quality resize.
Synchronous file work: call it from a worker thread.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from PIL import Image, ImageOps

from easel_mcp.workspace import Workspace
from easel_mcp.workspace_files import parts_below

SIZES = (128, 256, 512, 1024)
RENDERS = 2  # thumbnails rendered at once (each may decode up to MAX_PIXELS)
THUMBS_DIR = "thumbs"


def snap_size(requested: int) -> int:
    """The smallest cached size at least as big as `requested` (the largest for anything bigger)."""
    return next((s for s in SIZES if s >= requested), SIZES[-1])


def thumbnail_path(state_dir: Path, image_id: str, size: int) -> Path:
    return state_dir / THUMBS_DIR / f"{image_id}-{size}.webp"


def ensure_thumbnail(workspace: Workspace, source: Path, target: Path, size: int) -> tuple[Path, bool]:
    """The thumbnail of `source` at `target` (its longer side at most `size`), made if missing or older than
    the image; returns (path, whether it was rendered now). The image is read like every workspace file
    (regular, no links, at most MAX_INPUT_BYTES) and refused over MAX_PIXELS before any pixel is decoded;
    the thumbnail is written atomically (readers never see half a file) into a real folder of the workspace."""
    from easel_mcp.imaging.io import MAX_INPUT_BYTES, load, open_header

    with workspace.open_file(source, limit=MAX_INPUT_BYTES) as f:
        with contextlib.suppress(FileNotFoundError):
            if target.stat(follow_symlinks=False).st_mtime_ns >= os.fstat(f.fileno()).st_mtime_ns:
                return target, False
        data = f.read(MAX_INPUT_BYTES + 1)
    opened, _ = open_header(data, what="the image")  # the pixel cap, checked before decoding
    opened.draft("RGB", (size, size))  # JPEG only: decode at a reduced scale
    load(opened, what="the image")
    image = ImageOps.exif_transpose(opened)  # a copy, upright
    del data, opened
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    factor = max(image.size) // (size * 2)  # keep twice the target for the final, better resample
    if factor >= 2:
        image = image.reduce(factor)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, "WEBP", quality=82, method=4)
    return workspace.write_file(parts_below(workspace.root, target), buf.getvalue()), True
