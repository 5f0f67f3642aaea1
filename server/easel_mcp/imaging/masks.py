"""Inpainting masks: read what the agent supplies, write what the API wants.

The API's rule: a PNG with an alpha channel, exactly the size of the first image, under 4 MB,
where alpha == 0 marks the pixels the model paints. Every `MaskResult.png` follows it: RGBA, RGB
all 0 (black), alpha 0 = edit, 255 = keep, nothing in between.

Reading a supplied mask uses a hard threshold at 128 (no dithering, no soft edges):
- 'alpha': alpha < 128 is edit (an opaque mask therefore marks nothing);
- 'white': luminance >= 128 is edit; 'black': luminance < 128 is edit. Transparent pixels are first
  flattened onto the keep colour (black for 'white', white for 'black'), so strokes painted on a
  transparent layer read as expected;
- 'auto': 'alpha' when the mask has at least one pixel with alpha < 255, else 'white'.
16-bit masks (I;16) are scaled to 8 bits first; a tRNS entry on a 16-bit mask is ignored.
"""

from __future__ import annotations

import io as _io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from ..sizes import Dimensions as Size
from ..sizes import format_size as _fmt
from . import io as imgio
from .errors import ImagingError

Convention = Literal["auto", "alpha", "white", "black"]

THRESHOLD: Final = 128
MAX_MASK_BYTES: Final = 4 * 1024 * 1024
ASPECT_TOLERANCE: Final = 0.01
_MEANING: Final = {
    "alpha": "transparent pixels, alpha below 128, are edited",
    "white": "white pixels, luminance 128 or more, are edited",
    "black": "black pixels, luminance below 128, are edited",
}


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    width: int
    height: int
    shape: Literal["rect", "ellipse"] = "rect"


@dataclass(frozen=True)
class MaskResult:
    png: bytes  # RGBA PNG of exactly width x height: alpha 0 = edit, 255 = keep; RGB all 0
    width: int
    height: int
    convention_used: str  # 'alpha' | 'white' | 'black' | 'regions'
    edit_fraction: float  # share of pixels with alpha 0
    resized_from: tuple[int, int] | None
    edit_bbox: tuple[int, int, int, int] | None  # x, y, w, h of the edit area


def mask_png_from_edit(edit: Image.Image) -> bytes:
    """The API mask PNG for an 'L' edit map (255 = edit, 0 = keep). Always under 4 MB."""
    zero = Image.new("L", edit.size, 0)
    rgba = Image.merge("RGBA", (zero, zero, zero, ImageChops.invert(edit)))
    buf = _io.BytesIO()
    rgba.save(buf, "PNG", compress_level=6)
    if buf.tell() >= MAX_MASK_BYTES:  # pragma: no cover - needs a noise-like mask of > 30 MP
        buf = _io.BytesIO()
        rgba.save(buf, "PNG", optimize=True, compress_level=9)
        if buf.tell() >= MAX_MASK_BYTES:
            raise ImagingError(
                f"the {_fmt(edit.size)} mask is too intricate to stay under 4 MB as PNG: use simpler "
                "shapes (regions) or a smaller image."
            )
    return buf.getvalue()


def _binary(img: Image.Image, edit_if_at_least: bool) -> Image.Image:
    if edit_if_at_least:
        return img.point(lambda v: 255 if v >= THRESHOLD else 0)
    return img.point(lambda v: 255 if v < THRESHOLD else 0)


def _alpha_of(img: Image.Image) -> Image.Image | None:
    if img.mode in imgio.HIGH_DEPTH_MODES or not imgio.has_alpha(img):
        return None
    if img.mode in ("RGBA", "LA", "PA"):
        return img.getchannel("A")
    return img.convert("RGBA").getchannel("A")


def _luma(img: Image.Image, keep_colour: int) -> Image.Image:
    if img.mode in imgio.HIGH_DEPTH_MODES or not imgio.has_alpha(img):
        return imgio.to_8bit_grey(img)
    return imgio.to_rgb(img, keep_alpha=False, background=(keep_colour,) * 3).convert("L")


def _reading(img: Image.Image, convention: str) -> Image.Image:
    """'L' edit map at the mask's own size: 255 = edit."""
    if convention == "alpha":
        alpha = _alpha_of(img)
        return Image.new("L", img.size, 0) if alpha is None else _binary(alpha, edit_if_at_least=False)
    if convention == "white":
        return _binary(_luma(img, 0), edit_if_at_least=True)
    return _binary(_luma(img, 255), edit_if_at_least=False)


def _count(edit: Image.Image) -> int:
    return edit.histogram()[255]


def _build(edit: Image.Image, used: str, resized_from: Size | None) -> MaskResult:
    box = edit.getbbox()
    bbox = None if box is None else (box[0], box[1], box[2] - box[0], box[3] - box[1])
    fraction = _count(edit) / (edit.width * edit.height)
    return MaskResult(mask_png_from_edit(edit), edit.width, edit.height, used, fraction, resized_from, bbox)


def _how(used: str) -> str:
    return "the regions cover" if used == "regions" else f"read with the '{used}' convention: {_MEANING[used]}"


def _full_error(used: str) -> ImagingError:
    return ImagingError(
        f"the mask marks every pixel for editing ({_how(used)}), so nothing of the image would be kept: to "
        "change the whole image use edit_image instead, or mark only the area to change."
    )


def _empty_error(img: Image.Image, used: str) -> ImagingError:
    msg = f"the mask marks nothing for editing ({_how(used)})"
    if used == "alpha" and _alpha_of(img) is None:
        msg = "the mask has no transparency, so under the 'alpha' convention (transparent = edit) nothing is marked"
    total = img.width * img.height
    for other in (c for c in ("white", "black", "alpha") if c != used):
        n = _count(_reading(img, other))
        if 0 < n < total:
            return ImagingError(
                f"{msg}. Try convention '{other}' ({_MEANING[other]}): it marks {100 * n / total:.1f}% of the image."
            )
    return ImagingError(f"{msg}: paint the area to change and try again.")


def _check_aspect(mask: Size, target: Size) -> None:
    if abs((mask[0] * target[1]) / (mask[1] * target[0]) - 1) > ASPECT_TOLERANCE:
        raise ImagingError(
            f"the mask is {_fmt(mask)} but the image is {_fmt(target)}; their aspect ratios differ, so it "
            f"cannot be resized: supply a mask of {_fmt(target)}."
        )


def normalize_mask(data: bytes, size: tuple[int, int], convention: Convention = "auto") -> MaskResult:
    """Read a supplied mask (PNG/JPEG/WebP; modes 1, L, LA, RGB, RGBA, P with or without
    transparency, I;16) into the API's form at `size`. A mask of another size is resized (NEAREST)
    when its aspect ratio is within 1% of the image's, else refused. A mask that marks nothing or
    everything is refused."""
    if convention not in get_args(Convention):
        raise ImagingError(f"unknown mask convention {convention!r}: use auto, alpha, white or black.")
    img = imgio.open_image(data, what="the mask")
    used: str = convention
    if convention == "auto":
        alpha = _alpha_of(img)
        used = "alpha" if alpha is not None and alpha.histogram()[255] < img.width * img.height else "white"
    if img.size != tuple(size):
        _check_aspect(img.size, size)
    edit = _reading(img, used)
    n = _count(edit)
    if n == 0:
        raise _empty_error(img, used)
    if n == img.width * img.height:
        raise _full_error(used)
    resized_from: Size | None = None
    if img.size != tuple(size):
        edit = edit.resize(size, Image.Resampling.NEAREST)
        resized_from = img.size
        n = _count(edit)
        if n in (0, size[0] * size[1]):
            part = "edit" if n == 0 else "keep"
            raise ImagingError(
                f"the mask's {part} area vanished when resizing it from {_fmt(img.size)} to {_fmt(size)} "
                f"(it is too thin): supply a mask of {_fmt(size)}."
            )
    return _build(edit, used, resized_from)


def _region_problem(i: int, r: Region, size: Size) -> str | None:
    w, h = size
    name = f"region {i} ({r.shape} x={r.x}, y={r.y}, width={r.width}, height={r.height})"
    if r.shape not in ("rect", "ellipse"):
        return f"region {i} has shape {r.shape!r}: use 'rect' or 'ellipse'"
    if r.width <= 0 or r.height <= 0:
        return f"{name} is empty: width and height must be at least 1"
    if r.x >= w or r.y >= h or r.x + r.width <= 0 or r.y + r.height <= 0:
        return f"{name} lies entirely outside the {_fmt(size)} image"
    if r.x < 0:
        return f"{name} starts {-r.x} px left of the image: x must be at least 0"
    if r.y < 0:
        return f"{name} starts {-r.y} px above the image: y must be at least 0"
    if r.x + r.width > w:
        over = r.x + r.width - w
        return f"{name} extends {over} px past the right edge of the {_fmt(size)} image: use width at most {w - r.x}"
    if r.y + r.height > h:
        over = r.y + r.height - h
        return f"{name} extends {over} px past the bottom edge of the {_fmt(size)} image: use height at most {h - r.y}"
    return None


def mask_from_regions(size: tuple[int, int], regions: Sequence[Region]) -> MaskResult:
    """The union of rectangles and ellipses (each inside its x, y, width, height box; numbered from
    1 in messages) as an API mask. Every region must lie entirely within the image."""
    if size[0] <= 0 or size[1] <= 0:
        raise ImagingError(f"the image size {_fmt(size)} is not valid.")
    if not regions:
        raise ImagingError("no regions given: pass at least one {x, y, width, height} to edit.")
    edit = Image.new("L", size, 0)
    draw = ImageDraw.Draw(edit)
    for i, r in enumerate(regions, 1):
        problem = _region_problem(i, r, size)
        if problem:
            raise ImagingError(problem + ".")
        box = (r.x, r.y, r.x + r.width - 1, r.y + r.height - 1)
        if r.shape == "ellipse" and min(r.width, r.height) >= 3:
            draw.ellipse(box, fill=255)
        else:  # a rectangle, or an ellipse too small to differ from its box
            draw.rectangle(box, fill=255)
    if _count(edit) == size[0] * size[1]:
        raise _full_error("regions")
    return _build(edit, "regions", None)


def edit_area(mask: MaskResult) -> Image.Image:
    """The mask's edit area as an 'L' image: 255 where the PNG's alpha is 0, else 0."""
    img = imgio.open_image(mask.png, what="the mask")
    return img.getchannel("A").point(lambda a: 255 if a == 0 else 0)


def scale_mask(mask: MaskResult, size: tuple[int, int]) -> MaskResult:
    """The mask for a resized (possibly stretched) copy of the image, e.g. an inpaint request.
    Conservative: a pixel is edit when any part of its footprint was edit. Not refused when the
    result marks everything (the final composite uses the original mask)."""
    if tuple(size) == (mask.width, mask.height):
        return mask
    grown = edit_area(mask).resize(size, Image.Resampling.BOX).point(lambda v: 255 if v > 0 else 0)
    return _build(grown, mask.convention_used, (mask.width, mask.height))


def _shift(img: Image.Image, d: int, axis: int) -> Image.Image:
    w, h = img.size
    out = Image.new("L", img.size, 0)
    if abs(d) >= (w, h)[axis]:
        return out
    if axis == 0:
        out.paste(img.crop((0, 0, w - d, h) if d > 0 else (-d, 0, w, h)), (max(d, 0), 0))
    else:
        out.paste(img.crop((0, 0, w, h - d) if d > 0 else (0, -d, w, h)), (0, max(d, 0)))
    return out


def dilate(img: Image.Image, radius: int) -> Image.Image:
    """Grey dilation of an 'L' image by a (2r+1)-square (Chebyshev distance r), in O(log r) passes."""
    for axis in (0, 1):
        done = 0
        while done < radius:
            s = min(2 * done + 1, radius - done)  # keeps the covered offsets contiguous
            img = ImageChops.lighter(img, ImageChops.lighter(_shift(img, s, axis), _shift(img, -s, axis)))
            done += s
    return img


def feather_alpha(mask: MaskResult, feather: int) -> Image.Image:
    """Compositing weight ('L', mask size): 255 = take the model's pixel, 0 = keep the source.

    Exactly 255 inside the edit area; a band of `feather` px outside it blends linearly, distance
    measured as Chebyshev (square-neighbourhood) distance; exactly 0 further away. Built as a
    dilation by feather//2 followed by a box blur of radius feather - feather//2, so the support is
    exactly `feather` px.
    """
    if feather < 0:
        raise ImagingError(f"feather must be 0 or more pixels (got {feather}).")
    edit = edit_area(mask)
    if feather == 0 or mask.edit_bbox is None:
        return edit
    x, y, w, h = mask.edit_bbox
    m = feather + 1
    box = (max(0, x - m), max(0, y - m), min(mask.width, x + w + m), min(mask.height, y + h + m))
    part = edit.crop(box)
    grow = feather // 2
    soft = dilate(part, grow).filter(ImageFilter.BoxBlur(feather - grow))
    out = Image.new("L", edit.size, 0)
    out.paste(ImageChops.lighter(soft, part), box[:2])
    return out
