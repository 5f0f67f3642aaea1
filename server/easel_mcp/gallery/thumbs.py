"""Thumbnails for the gallery: made once, cached at <workspace>/.easel/thumbs/<id>-<size>.webp.

A cached thumbnail is used while it is newer than its image. Big images are shrunk with Pillow's `draft`
(JPEG: decode at 1/2, 1/4 or 1/8 scale) and `reduce` (integer box reduction) before the final resample, so a
4096-pixel PNG costs a fraction of a full-quality resize. Synchronous file work: call it from a worker thread.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

from PIL import Image, ImageOps

SIZES = (128, 256, 512, 1024)
THUMBS_DIR = "thumbs"


def snap_size(requested: int) -> int:
    """The smallest cached size at least as big as `requested` (the largest for anything bigger)."""
    return next((s for s in SIZES if s >= requested), SIZES[-1])


def thumbnail_path(state_dir: Path, image_id: str, size: int) -> Path:
    return state_dir / THUMBS_DIR / f"{image_id}-{size}.webp"


def ensure_thumbnail(source: Path, target: Path, size: int) -> tuple[Path, bool]:
    """The thumbnail of `source` at `target` (its longer side at most `size`), made if missing or older than
    the image; returns (path, whether it was rendered now). Written atomically: readers never see half a file."""
    try:
        if target.stat().st_mtime_ns >= source.stat().st_mtime_ns:
            return target, False
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with Image.open(source) as opened:
            opened.draft("RGB", (size, size))  # JPEG only: decode at a reduced scale
            image = ImageOps.exif_transpose(opened)  # a loaded copy, upright
    except Image.DecompressionBombError as e:
        raise ValueError(str(e)) from e
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    factor = max(image.size) // (size * 2)  # keep twice the target for the final, better resample
    if factor >= 2:
        image = image.reduce(factor)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        image.save(tmp, "WEBP", quality=82, method=4)
        tmp.replace(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target, True
