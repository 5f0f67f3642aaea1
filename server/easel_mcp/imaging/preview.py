"""Small previews of images for the agent's context, within a byte budget."""

from __future__ import annotations

import io as _io
from dataclasses import dataclass
from typing import Final

from PIL import Image

from . import io as imgio
from .errors import ImagingError

MIN_PREVIEW_BYTES: Final = 2048
_QUALITIES: Final = (80, 62, 45, 30)
_SHRINK_QUALITY: Final = 45
PREVIEW_MAX_EDGE: Final = 512
"""A preview is for the agent to check composition and content: 512 px on the long side shows that, costs
about half the vision tokens of 768 px, and is cut from a 1024 px answer by one `reduce(2)` (under 1 ms, where
a 1024 -> 768 resample takes about 10 ms)."""


@dataclass(frozen=True)
class Preview:
    data: bytes
    mime_type: str
    width: int
    height: int


def preview_budget_split(total_bytes: int, count: int) -> int:
    """Per-preview byte budget when `count` previews share `total_bytes`: their sum stays strictly
    below the total, except that no preview gets less than MIN_PREVIEW_BYTES (2 KB) — with a total
    under count x 2 KB, show fewer previews."""
    if count <= 0:
        return max(MIN_PREVIEW_BYTES, total_bytes)
    return max(MIN_PREVIEW_BYTES, (total_bytes - 1) // count)


def _fit(size: tuple[int, int], max_edge: int) -> tuple[int, int]:
    w, h = size
    scale = min(1.0, max_edge / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _downscale(img: Image.Image, target: tuple[int, int], keep_alpha: bool) -> Image.Image:
    """Convert to RGB/RGBA and resize to `target`: an integer `reduce()` (a box filter: area averaging,
    properly antialiased and cheap) as far as it goes, then LANCZOS for the remaining step (< 2x)."""
    fast_modes = ("L", "RGB", "RGBA")
    if img.mode not in fast_modes:  # P, 1, LA, CMYK, I;16...: convert first so resampling is right
        img = imgio.to_rgb(img, keep_alpha=keep_alpha)
    factor = int(min(img.width / target[0], img.height / target[1]))
    if factor >= 2:
        img = img.reduce(factor)
    if img.size != target:  # the last step is < 2x: BICUBIC is as good as LANCZOS here, and faster
        img = img.resize(target, Image.Resampling.BICUBIC)
    return imgio.to_rgb(img, keep_alpha=keep_alpha)


def _encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    buf = _io.BytesIO()
    if fmt == "jpeg":
        img.save(buf, "JPEG", quality=quality)
    else:
        img.save(buf, "WEBP", quality=quality, method=2)  # method 2: 2.5x faster than 4, ~8% larger
    return buf.getvalue()


@dataclass(frozen=True)
class PreviewSource:
    """An image already cut to preview size (RGB, or RGBA for a WebP preview) and the format its preview
    takes: what is left of a preview is the encoding, within whatever byte budget the result allows."""

    image: Image.Image
    fmt: str  # 'jpeg' | 'webp'


def preview_source(img: Image.Image, *, max_edge: int = PREVIEW_MAX_EDGE, fmt: str = "auto") -> PreviewSource:
    """Cut a decoded image (`load`ed, or a JPEG's header: then drafted and decoded here) to preview size.
    fmt="auto": JPEG for opaque images (several times faster to encode), WebP when there is transparency."""
    if fmt == "auto":
        fmt = "webp" if imgio.has_alpha(img) else "jpeg"
    out_fmt = imgio.normalize_format(fmt)
    if out_fmt == "png":
        raise ImagingError("previews are webp or jpeg, not png: pass fmt='webp' or fmt='jpeg'.")
    target = _fit(img.size, max(16, max_edge))
    if img.format == "JPEG" and target != img.size:  # not decoded yet (else a no-op): DCT scaling
        img.draft("RGB" if img.mode in ("RGB", "YCbCr") else None, target)  # decodes 1/2..1/8 only
    imgio.load(img, what="the image")
    small = _downscale(img, target, keep_alpha=out_fmt == "webp")
    return PreviewSource(small.copy() if small is img else small, out_fmt)  # its own pixels: img may be closed


def _check_budget(max_bytes: int) -> None:
    if max_bytes < MIN_PREVIEW_BYTES:
        raise ImagingError(f"a preview budget of {max_bytes} bytes is too small: allow at least 2048 bytes.")


def encode_preview(source: PreviewSource, max_bytes: int) -> Preview:
    """The preview of `source` in at most `max_bytes` bytes: quality is lowered in steps first, then the
    size, until it fits; the last resort keeps shrinking (down to 1 px), so any budget of 2 KB is met."""
    _check_budget(max_bytes)
    small, out_fmt = source.image, source.fmt
    out = b""
    for quality in _QUALITIES:
        out = _encode(small, out_fmt, quality)
        if len(out) <= max_bytes:
            return Preview(out, imgio.mime_of(out_fmt), small.width, small.height)
    while True:
        if small.size == (1, 1):  # pragma: no cover - a 1x1 WebP/JPEG is far below 2 KB
            raise ImagingError(f"cannot fit a preview in {max_bytes} bytes: allow a larger budget.")
        factor = min(0.85, max(0.1, 0.9 * (max_bytes / len(out)) ** 0.5))
        size = (max(1, int(small.width * factor)), max(1, int(small.height * factor)))
        small = small.resize(size, Image.Resampling.BICUBIC)
        out = _encode(small, out_fmt, _SHRINK_QUALITY)
        if len(out) <= max_bytes:
            return Preview(out, imgio.mime_of(out_fmt), small.width, small.height)


def make_preview(data: bytes, max_bytes: int, *, max_edge: int = PREVIEW_MAX_EDGE, fmt: str = "webp") -> Preview:
    """A WebP (alpha kept) or JPEG (alpha flattened onto white) preview of `data`, long edge at most
    `max_edge` (never upscaled), at most `max_bytes` bytes (see `preview_source` and `encode_preview`)."""
    _check_budget(max_bytes)  # before anything is decoded
    img, _ = imgio.open_header(data, what="the image")
    return encode_preview(preview_source(img, max_edge=max_edge, fmt=fmt), max_bytes)


DISPLAY_MAX_EDGE: Final = 2048
DISPLAY_MAX_BYTES: Final = 700_000
"""A display rendition, base64 in a `resources/read` answer, stays well under 1 MiB."""


def display_rendition(data: bytes) -> Preview:
    """The image as a view shows it (`easel://images/<id>/display`): at most 2048 px on its long side
    and 700 KB, JPEG (WebP when it has transparency), so that no answer nears the hosts' 1 MiB."""
    return make_preview(data, DISPLAY_MAX_BYTES, max_edge=DISPLAY_MAX_EDGE, fmt="auto")
