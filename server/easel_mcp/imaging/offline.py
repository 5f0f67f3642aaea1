"""The deterministic offline renderer: an honest placeholder used when no API key is set.

Nothing here imitates a model. Generations are soft shapes in a palette derived from
sha256(prompt, index), with the prompt written in a box and a visible "OFFLINE PREVIEW" mark; edits
follow the API's mask rule (only pixels whose mask alpha is 0 change) and fill that area with
stripes. Same inputs, same bytes.
"""

from __future__ import annotations

import colorsys
import hashlib
import unicodedata
from typing import Final

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ..sizes import Dimensions as Size
from ..sizes import format_size
from . import io as imgio
from .errors import ImagingError

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

OFFLINE_MARK: Final = "OFFLINE PREVIEW — no AI model was used"
_DRAWN_MARK: Final = "OFFLINE PREVIEW - no AI model was used"  # the bundled font has no em dash
_EDIT_LABEL: Final = "OFFLINE EDIT - no AI model was used"
_ASCII: Final = str.maketrans({"—": "-", "–": "-", "“": '"', "”": '"', "‘": "'", "’": "'", "→": "->", "×": "x"})


def _seed(prompt: str, index: int) -> bytes:
    first = hashlib.sha256(f"{prompt}\x00{index}".encode()).digest()
    return first + hashlib.sha256(first).digest()


def _palette(seed: bytes) -> list[tuple[int, int, int]]:
    colours = []
    for k in range(5):
        hue = (seed[0] / 255 + k * 0.17 + seed[k + 1] / 2550) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, 0.35 + seed[k + 6] / 255 * 0.45, 0.5 + seed[k + 11] / 255 * 0.45)
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
    return colours


def _check_size(size: Size) -> None:
    w, h = size
    if w <= 0 or h <= 0 or w * h > imgio.MAX_PIXELS:
        raise ImagingError(f"cannot render {w}x{h}: sides must be positive and at most {imgio.MAX_PIXELS:,} pixels.")


def _font(px: int) -> Font:
    return ImageFont.load_default(size=max(6, px))


def _line_height(font: Font) -> int:
    return round(font.size * 1.25) if isinstance(font, ImageFont.FreeTypeFont) else 12


def _printable(text: str) -> str:
    """The bundled font covers ASCII (and …) only: fold accents, replace the rest with '?'."""
    folded = unicodedata.normalize("NFKD", " ".join(text.translate(_ASCII).split()))
    out = (c for c in folded if not unicodedata.combining(c))
    return "".join(c if (c.isascii() and c.isprintable()) or c == "…" else "?" for c in out)


def _wrap(text: str, font: Font, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap to `width` px; long words are broken; the last line ends in … if cut."""
    lines: list[str] = []
    cur = ""
    for word in text.split():
        while font.getlength(word) > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and font.getlength(word[:cut]) > width:
                cut -= 1
            if cur:
                lines.append(cur)
                cur = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{cur} {word}" if cur else word
        if font.getlength(candidate) <= width:
            cur = candidate
        else:
            lines.append(cur)
            cur = word
        if len(lines) > max_lines:
            break
    if cur:
        lines.append(cur)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last.rstrip() + "…"]
    return lines


def _text_box(
    layer: Image.Image, lines: list[str], font: Font, xy: tuple[int, int], pad: int, fill: tuple[int, int, int, int]
) -> None:
    if not lines:
        return
    draw = ImageDraw.Draw(layer)
    line_h = _line_height(font)
    width = max(round(font.getlength(line)) for line in lines) + 2 * pad
    x, y = xy
    draw.rounded_rectangle((x, y, x + width, y + line_h * len(lines) + 2 * pad), radius=pad, fill=fill)
    for i, line in enumerate(lines):
        draw.text((x + pad, y + pad + i * line_h), line, font=font, fill=(255, 255, 255, 255))


def _annotate(img: Image.Image, prompt: str) -> Image.Image:
    """The OFFLINE mark along the top and the prompt in a box (RGBA in, RGBA out)."""
    w, h = img.size
    pad = max(2, min(w, h) // 48)
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    px = max(8, min(w, h) // 28)
    while px > 6 and _font(px).getlength(_DRAWN_MARK) > w - 2 * pad:
        px -= 1
    mark_font = _font(px)
    band = round(px * 1.25) + 2 * pad
    ImageDraw.Draw(layer).rectangle((0, 0, w, band), fill=(150, 20, 20, 230))
    mark_x = max(0, (w - round(mark_font.getlength(_DRAWN_MARK))) // 2)
    ImageDraw.Draw(layer).text((mark_x, pad), _DRAWN_MARK, font=mark_font, fill=(255, 255, 255, 255))
    font = _font(max(9, min(w, h) // 24))
    line_h = _line_height(font)
    room = h - band - 4 * pad
    max_lines = min(12, room // line_h) if room > 0 else 0
    lines = _wrap(_printable(prompt), font, w - 6 * pad, max_lines) if max_lines else []
    if lines:
        box_h = line_h * len(lines) + 2 * pad
        box_w = max(round(font.getlength(line)) for line in lines) + 2 * pad
        xy = ((w - box_w) // 2, band + max(pad, (h - band - box_h) // 2))
        _text_box(layer, lines, font, xy, pad, (15, 15, 20, 190))
    out = img.copy()
    out.alpha_composite(layer)
    return out


def _composition(size: Size, seed: bytes, transparent: bool) -> Image.Image:
    w, h = size
    s = min(1.0, 160 / max(w, h))
    small = (max(1, round(w * s)), max(1, round(h * s)))
    pal = _palette(seed)
    if transparent:
        base = Image.new("RGBA", small, (0, 0, 0, 0))
    else:
        grad = Image.linear_gradient("L").rotate(90 * (seed[16] % 4)).resize(small)
        base = Image.composite(Image.new("RGB", small, pal[0]), Image.new("RGB", small, pal[1]), grad).convert("RGBA")
    layer = Image.new("RGBA", small, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for k in range(3 + seed[17] % 3):
        bx, by, br = seed[18 + 3 * k : 21 + 3 * k]
        cx, cy = bx / 255 * small[0], by / 255 * small[1]
        r = (0.12 + br / 255 * 0.25) * max(small)
        box = (cx - r, cy - r * 0.8, cx + r, cy + r * 0.8)
        colour = (*pal[2 + k % 3], 215)
        if br % 2:
            draw.ellipse(box, fill=colour)
        else:
            draw.rounded_rectangle(box, radius=r / 3, fill=colour)
    blur = ImageFilter.GaussianBlur(max(1.0, min(small) / 30))
    base.alpha_composite(layer.convert("RGBa").filter(blur).convert("RGBA"))
    return base.convert("RGBa").resize(size, Image.Resampling.BICUBIC).convert("RGBA")


def render_generation(
    prompt: str,
    size: Size,
    *,
    fmt: str = "png",
    background: str = "auto",
    compression: int | None = None,
    index: int = 0,
) -> bytes:
    """A placeholder image of exactly `size` in `fmt` (png/jpeg/webp): soft shapes in a palette seeded
    by sha256(prompt, index), the prompt in a box (wrapped, cut with … when long) and the mark
    "OFFLINE PREVIEW - no AI model was used". background="transparent" (png or webp only) leaves the
    area around the shapes transparent. Deterministic: same inputs, same bytes."""
    f = imgio.normalize_format(fmt)
    _check_size(size)
    if background not in ("auto", "opaque", "transparent"):
        raise ImagingError(f"background {background!r} is not valid: use auto, opaque or transparent.")
    transparent = background == "transparent"
    if transparent and f == "jpeg":
        raise ImagingError("a transparent background needs png or webp output, not jpeg.")
    img = _annotate(_composition(size, _seed(prompt, index), transparent), prompt)
    return imgio.encode(img if transparent else img.convert("RGB"), f, compression=compression)


def _stripes(size: Size, mode: str, colours: tuple[tuple[int, int, int], tuple[int, int, int]]) -> Image.Image:
    period = max(8, min(size) // 24)
    half = period // 2
    raw = bytearray()
    for y in range(period):
        for x in range(period):
            raw += bytes(colours[0] if (x + y) % period < half else colours[1])
    tile = Image.frombytes("RGB", (period, period), bytes(raw))
    row = Image.new("RGB", (size[0], period))
    for x in range(0, size[0], period):
        row.paste(tile, (x, 0))
    out = Image.new("RGB", size)
    for y in range(0, size[1], period):
        out.paste(row, (0, y))
    return out.convert(mode)


def _edit_area(mask_png: bytes, image_size: Size, size: Size) -> Image.Image:
    if imgio.sniff(mask_png) != "png":
        raise ImagingError("the mask must be a PNG with an alpha channel (alpha 0 = edit).")
    mask = imgio.open_image(mask_png, what="the mask")
    if mask.size != image_size:
        raise ImagingError(
            f"the mask is {format_size(mask.size)} but the image is {format_size(image_size)}: they must "
            "be the same size."
        )
    if not imgio.has_alpha(mask) or mask.mode in imgio.HIGH_DEPTH_MODES:
        raise ImagingError("the mask has no alpha channel: the API reads alpha = 0 as 'edit here'; supply an RGBA PNG.")
    edit = mask.convert("RGBA").getchannel("A").point(lambda a: 255 if a == 0 else 0)
    return edit if edit.size == size else edit.resize(size, Image.Resampling.NEAREST)


def render_edit(
    image: Image.Image,
    mask_png: bytes | None,
    prompt: str,
    size: Size,
    *,
    fmt: str = "png",
    compression: int | None = None,
    index: int = 0,
) -> bytes:
    """An offline "edit" of `image` at `size` (the image resized with LANCZOS when it differs).

    With a mask (PNG with alpha, the image's size, as the API requires) only pixels whose mask alpha
    is exactly 0 change: they get diagonal stripes in seeded colours and, when the area is large
    enough, an "OFFLINE EDIT" label with the prompt. Every other pixel equals the (resized) source
    byte for byte in png output and in lossless webp (compression=0); jpeg and lossy webp are lossy
    everywhere. Without a mask the whole image gets a translucent tint, the prompt and the mark.
    The output is RGBA when the image has transparency, else RGB.
    """
    f = imgio.normalize_format(fmt)
    _check_size(size)
    base = imgio.to_rgb(image)
    if base.size != size:
        base = base.resize(size, Image.Resampling.LANCZOS)
    seed = _seed(prompt, index)
    pal = _palette(seed)
    if mask_png is None:
        tinted = base.convert("RGBA")
        tinted.alpha_composite(Image.new("RGBA", size, (*pal[2], 90)))
        out = _annotate(tinted, f"Edit: {prompt}").convert(base.mode)
        return imgio.encode(out, f, compression=compression)
    edit = _edit_area(mask_png, image.size, size)
    pattern = _stripes(size, "RGBA", (pal[2], pal[3]))
    bbox = edit.getbbox()
    if bbox is not None and bbox[2] - bbox[0] >= 80 and bbox[3] - bbox[1] >= 24:
        bw, bh = bbox[2] - bbox[0], bbox[3] - bbox[1]
        font = _font(max(9, min(bh // 6, bw // 24, 40)))
        pad = max(2, _line_height(font) // 5)
        lines = _wrap(_printable(f"{_EDIT_LABEL}: {prompt}"), font, bw * 0.7 - 2 * pad, 4)
        if lines:  # centred on the edit area's box, where an ellipse is widest
            box_w = max(round(font.getlength(line)) for line in lines) + 2 * pad
            box_h = _line_height(font) * len(lines) + 2 * pad
            xy = (bbox[0] + (bw - box_w) // 2, bbox[1] + (bh - box_h) // 2)
            _text_box(pattern, lines, font, xy, pad, (15, 15, 20, 255))
    out = Image.composite(pattern.convert(base.mode), base, edit)
    return imgio.encode(out, f, compression=compression)
