"""Safe decoding and encoding: bytes in, bytes out.

Formats are recognised by content, never by name. Decoding never goes through `Image.open`
(which would warn, not fail, between 1x and 2x Pillow's pixel limit): the header is parsed by the
format's plugin, the pixel count is checked against `MAX_PIXELS`, and only then is anything decoded.
EXIF orientation is never applied: pixels stay as stored.
"""

from __future__ import annotations

import io as _io
import struct
import zlib
from dataclasses import dataclass
from typing import Final

from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

from .errors import ImagingError
from .formats import FORMATS, MIME_TYPES

MAX_INPUT_BYTES: Final = 50 * 1024 * 1024
MAX_PIXELS: Final = 8_294_400 * 4  # decompression-bomb cap: four times the largest request size

# Deliberate and process-wide: Pillow's own guard agrees with ours for any other caller.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

ACCEPTED: Final = FORMATS
_OPENERS: Final[dict[str, type[ImageFile.ImageFile]]] = {
    "png": PngImagePlugin.PngImageFile,
    "jpeg": JpegImagePlugin.JpegImageFile,  # an MPO (multi-picture JPEG) reads as its first picture
    "webp": WebPImagePlugin.WebPImageFile,
    # readable but not accepted by the model: ensure_model_input converts these to PNG
    "GIF": GifImagePlugin.GifImageFile,
    "BMP": BmpImagePlugin.BmpImageFile,
    "TIFF": TiffImagePlugin.TiffImageFile,
}
_DECODE_ERRORS: Final = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)
HIGH_DEPTH_MODES: Final = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_ACCEPTED_TEXT: Final = "only PNG, JPEG and WebP are accepted"
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class ImageInfo:
    format: str  # 'png' | 'jpeg' | 'webp'
    width: int
    height: int
    mode: str
    has_alpha: bool
    bytes: int


def _cap(what: str) -> str:
    return what[:1].upper() + what[1:]


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def sniff(data: bytes) -> str | None:
    """'png', 'jpeg' or 'webp' from the first bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _other_kind(data: bytes) -> str | None:
    """A name for content that is not an accepted format (for messages and conversion)."""
    head = data[:32]
    kinds = (
        ((b"GIF87a", b"GIF89a"), "GIF"),
        ((b"BM",), "BMP"),
        ((b"II*\x00", b"MM\x00*"), "TIFF"),
        ((b"%PDF",), "PDF"),
        ((b"8BPS",), "PSD"),
        ((b"\x00\x00\x01\x00",), "ICO"),
        ((b"qoif",), "QOI"),
        ((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51"), "JPEG 2000"),
        ((b"iVBORw0KGgo", b"/9j/", b"UklGR"), "base64 text (decode it to raw bytes first)"),
        ((b"data:image/",), "a data: URL (send the decoded bytes)"),
    )
    for prefixes, name in kinds:
        if head.startswith(prefixes):
            return name
    if head[4:8] == b"ftyp":
        return "AVIF" if head[8:12] in (b"avif", b"avis") else "HEIC/HEIF or MP4"
    if head.lstrip().startswith((b"<svg", b"<?xml", b"<!DOCTYPE", b"<html")):
        return "SVG/XML/HTML text"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "text"
    return None


def _refuse_format(data: bytes, what: str) -> ImagingError:
    kind = _other_kind(data)
    if kind is None:
        return ImagingError(f"{_cap(what)} is not a recognisable image; {_ACCEPTED_TEXT}.")
    article = "" if kind.startswith(("a ", "base64", "text", "SVG")) else "an " if kind[0] in "AEIO" else "a "
    return ImagingError(
        f"{_cap(what)} is {article}{kind}, not an accepted image: {_ACCEPTED_TEXT}; re-save it in one of those."
    )


def _check_bytes(data: bytes, what: str) -> None:
    if not data:
        raise ImagingError(f"{_cap(what)} is empty (0 bytes): supply a PNG, JPEG or WebP file.")
    if len(data) > MAX_INPUT_BYTES:
        raise ImagingError(
            f"{_cap(what)} is {_mb(len(data))}, over the {_mb(MAX_INPUT_BYTES)} limit: supply a smaller file "
            "(JPEG or WebP, or fewer pixels)."
        )


def _check_pixels(img: Image.Image, what: str) -> None:
    w, h = img.size
    if w <= 0 or h <= 0:
        raise ImagingError(f"{_cap(what)} claims a size of {w}x{h}: the file is damaged.")
    if w * h > MAX_PIXELS:
        f = (w * h / MAX_PIXELS) ** 0.5
        raise ImagingError(
            f"{_cap(what)} is {w}x{h} = {w * h:,} pixels, over the {MAX_PIXELS:,}-pixel limit: downscale it "
            f"(for example to {int(w / f)}x{int(h / f)} or smaller) and try again."
        )
    if getattr(img, "is_animated", False):
        raise ImagingError(f"{_cap(what)} is animated: supply a single still image (PNG, JPEG or WebP).")


def _open_header(data: bytes, kind: str, what: str) -> ImageFile.ImageFile:
    """Parse the header only (no pixel decoding) and apply the size and pixel limits."""
    _check_bytes(data, what)
    try:
        img = _OPENERS[kind](_io.BytesIO(data))
    except _DECODE_ERRORS as exc:
        raise ImagingError(
            f"{_cap(what)} starts like a {kind.upper()} file but its header cannot be read ({exc}): the file is "
            f"damaged; re-export it as PNG, JPEG or WebP."
        ) from exc
    _check_pixels(img, what)
    return img


def _damaged(what: str, label: str, exc: BaseException) -> ImagingError:
    upstream = "answer" in what or "partial" in what  # not the agent's file: nothing for it to re-export
    advice = "the upstream sent a broken image" if upstream else "re-export or re-download it"
    return ImagingError(f"{_cap(what)} is a damaged or truncated {label} file ({exc}): {advice}.")


def open_header(data: bytes, *, what: str = "image") -> tuple[ImageFile.ImageFile, str]:
    """The image with its header parsed and limits checked but pixels not decoded yet (so that a
    caller may still call `draft()`), and its format. Decode errors on `load()` are the caller's."""
    fmt = sniff(data)
    if fmt is None:
        _check_bytes(data, what)
        raise _refuse_format(data, what)
    return _open_header(data, fmt, what), fmt


def load(img: Image.Image, *, what: str = "image") -> None:
    """Decode the pixels of an image from `open_header`, as an ImagingError when that fails."""
    try:
        img.load()
    except _DECODE_ERRORS as exc:
        raise _damaged(what, str(img.format or "image"), exc) from exc


def probe(data: bytes, *, what: str = "image") -> ImageInfo:
    """Check that `data` is a complete PNG, JPEG or WebP within the limits, decoding as little as
    possible: PNG chunk checksums are verified, JPEG is decoded at 1/8 scale, WebP in full."""
    img, fmt = open_header(data, what=what)
    info = ImageInfo(fmt, img.width, img.height, img.mode, has_alpha(img), len(data))
    try:
        if fmt == "png":
            img.verify()
        else:
            if fmt == "jpeg":
                img.draft(img.mode, (1, 1))
            img.load()
    except _DECODE_ERRORS as exc:
        raise _damaged(what, fmt.upper(), exc) from exc
    return info


def decode_check(data: bytes, *, what: str = "image") -> ImageInfo:
    """Like `probe`, but decode every pixel (within the pixel cap): PNG chunk checksums say nothing
    about the pixel data, so what is sent upstream or saved as an answer is decoded in full once."""
    info, img = decode_checked(data, what=what)
    img.close()
    return info


def decode_checked(data: bytes, *, what: str = "image") -> tuple[ImageInfo, Image.Image]:
    """`decode_check`, keeping the decoded image for whatever else needs its pixels (a preview)."""
    img, fmt = open_header(data, what=what)
    info = ImageInfo(fmt, img.width, img.height, img.mode, has_alpha(img), len(data))
    load(img, what=what)
    return info, img


def open_image(data: bytes, *, what: str = "image") -> Image.Image:
    """The fully decoded image (mode as stored; EXIF orientation not applied)."""
    img, _ = open_header(data, what=what)
    load(img, what=what)
    return img


def has_alpha(img: Image.Image) -> bool:
    """True for an alpha channel or a tRNS/transparency entry (not necessarily a transparent pixel)."""
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or img.has_transparency_data


def to_8bit_grey(img: Image.Image) -> Image.Image:
    """Mode 'L' for any single-band image, 16-bit ones scaled (not clipped) to 0-255."""
    if img.mode in HIGH_DEPTH_MODES:
        return img.convert("I").point(lambda v: v / 256).convert("L")
    return img if img.mode == "L" else img.convert("L")


def to_rgb(img: Image.Image, *, keep_alpha: bool = True, background: RGB = (255, 255, 255)) -> Image.Image:
    """'RGBA' when keep_alpha and the image has transparency, else 'RGB' (transparency flattened onto
    `background`). Returns the image itself when it already has the target mode."""
    if img.mode in HIGH_DEPTH_MODES:
        img = to_8bit_grey(img)
    if not has_alpha(img):
        return img if img.mode == "RGB" else img.convert("RGB")
    rgba = img if img.mode == "RGBA" else img.convert("RGBA")
    if keep_alpha:
        return rgba
    flat = Image.new("RGB", img.size, background)
    flat.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
    return flat


def normalize_format(fmt: str) -> str:
    f = fmt.lower().lstrip(".")
    f = "jpeg" if f == "jpg" else f
    if f not in ACCEPTED:
        raise ImagingError(f"output format {fmt!r} is not supported: use png, jpeg or webp.")
    return f


def mime_of(fmt: str) -> str:
    return MIME_TYPES[normalize_format(fmt)]


def quality_for(compression: int | None) -> int:
    """OpenAI's output_compression (0-100, higher = smaller) as a JPEG/WebP quality; 90 when None."""
    if compression is None:
        return 90
    if not 0 <= compression <= 100:
        raise ImagingError(f"compression must be between 0 and 100 (got {compression}).")
    return max(1, min(100, 100 - compression))


def encode(img: Image.Image, fmt: str, *, compression: int | None = None) -> bytes:
    """Encode as png, jpeg or webp. png: lossless, fast (zlib level 1, no optimize), `compression`
    ignored as in the OpenAI API; modes other than 1/L/LA/P/RGB/RGBA/I;16 become RGB(A). jpeg: quality
    100 - compression (90 when None), transparency flattened onto white. webp: same quality, alpha
    kept; compression == 0 means lossless WebP (exact: pixels round-trip byte for byte)."""
    f = normalize_format(fmt)
    quality = quality_for(compression)
    buf = _io.BytesIO()
    try:
        if f == "png":
            im = img if img.mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16") else to_rgb(img)
            im.save(buf, "PNG", optimize=False, compress_level=1)
        elif f == "jpeg":
            im = img if img.mode == "L" else to_rgb(img, keep_alpha=False)
            im.save(buf, "JPEG", quality=quality)
        elif compression == 0:
            to_rgb(img).save(buf, "WEBP", lossless=True, exact=True, quality=50, method=4)
        else:
            to_rgb(img).save(buf, "WEBP", quality=quality, method=4)
    except (OSError, ValueError) as exc:  # pragma: no cover - Pillow refuses an odd mode or size
        raise ImagingError(f"cannot encode a {img.mode} {img.width}x{img.height} image as {f} ({exc}).") from exc
    return buf.getvalue()


def _convert_other(data: bytes, what: str) -> tuple[bytes, ImageInfo, bool]:
    kind = _other_kind(data)
    if kind not in ("GIF", "BMP", "TIFF"):
        raise _refuse_format(data, what)
    img = _open_header(data, kind, what)
    load(img, what=what)
    png = encode(to_rgb(img), "png")
    if len(png) > MAX_INPUT_BYTES:
        raise ImagingError(
            f"{_cap(what)} ({kind}) converts to a {_mb(len(png))} PNG, over the {_mb(MAX_INPUT_BYTES)} limit: "
            "supply it as JPEG or WebP."
        )
    return png, probe(png, what=what), True


def ensure_model_input(data: bytes, *, what: str) -> tuple[bytes, ImageInfo, bool]:
    """(bytes to send, their info, converted?). PNG, JPEG and WebP within the limits are returned
    unchanged (only probed, never re-encoded); a still GIF, BMP or TIFF is converted to PNG
    (converted=True); anything else is refused. Every pixel is decoded once (call it off the event loop)."""
    _check_bytes(data, what)
    if sniff(data) is not None:
        return data, decode_check(data, what=what), False
    return _convert_other(data, what)
