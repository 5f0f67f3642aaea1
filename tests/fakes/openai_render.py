"""Pillow images the fake OpenAI Images API answers with: cheap to make, easy to recognise in tests.

* generations: a solid colour derived from the prompt with a centred rectangle; with a transparent
  background the area outside the rectangle has alpha 0.
* edits: the first input image resized to the output size, with the area the mask marks for
  editing (alpha == 0, mask resized to the output size) painted solid magenta (255, 0, 255).
"""

from __future__ import annotations

import hashlib
import io

from PIL import Image, ImageDraw

MAGENTA = (255, 0, 255)


def prompt_colour(prompt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(prompt.encode()).digest()
    return digest[0], digest[1], digest[2]


def generated_image(prompt: str, width: int, height: int, transparent: bool) -> Image.Image:
    colour = prompt_colour(prompt)
    inverse = (255 - colour[0], 255 - colour[1], 255 - colour[2])
    if transparent:
        img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        fill: tuple[int, ...] = (*colour, 255)
    else:
        img = Image.new("RGB", (width, height), colour)
        fill = inverse
    ImageDraw.Draw(img).rectangle((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=fill)
    return img


def edit_image(first: Image.Image, mask: Image.Image | None, width: int, height: int, transparent: bool) -> Image.Image:
    mode = "RGBA" if transparent else "RGB"
    base = first.convert(mode).resize((width, height))
    if mask is None:
        return base
    alpha = mask.convert("RGBA").getchannel("A").resize((width, height), Image.Resampling.NEAREST)
    hole = alpha.point(lambda a: 255 if a == 0 else 0)
    paint = Image.new(mode, (width, height), (*MAGENTA, 255) if transparent else MAGENTA)
    return Image.composite(paint, base, hole)


def encode(img: Image.Image, fmt: str, compression: int) -> bytes:
    out = io.BytesIO()
    if fmt == "jpeg":
        img.convert("RGB").save(out, "JPEG", quality=max(1, min(95, compression)))
    elif fmt == "webp":
        img.save(out, "WEBP", quality=compression, method=0)
    else:
        img.save(out, "PNG", compress_level=1)
    return out.getvalue()
