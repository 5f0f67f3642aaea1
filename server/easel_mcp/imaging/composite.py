"""Putting model pixels back over the source without touching what must be kept."""

from __future__ import annotations

from typing import Final

from PIL import Image

from . import io as imgio
from .errors import ImagingError

_BLENDABLE: Final = ("L", "LA", "RGB", "RGBA")


def composite_over_source(source: Image.Image, model_output: Image.Image, weight: Image.Image) -> Image.Image:
    """source where weight == 0 (byte-identical pixels), model_output where weight == 255, a linear
    blend in between. `weight` ('L') must have the source's size; the model output is resized to it
    (LANCZOS) when needed and converted to the source's mode.

    The result has the source's mode for L, LA, RGB and RGBA sources. Other modes (P, 1, I;16,
    CMYK...) cannot be blended meaningfully: they are expanded to RGB, or RGBA when they have
    transparency, and "byte-identical" then refers to that expanded source.
    """
    if weight.size != source.size:
        raise ImagingError(
            f"the blend weight is {weight.width}x{weight.height} but the source is {source.width}x{source.height}: "
            "build the weight from a mask of the source's size."
        )
    if weight.mode != "L":
        weight = weight.convert("L")
    base = source if source.mode in _BLENDABLE else imgio.to_rgb(source)
    model = model_output
    if model.size != base.size:
        model = model.resize(base.size, Image.Resampling.LANCZOS)
    if model.mode != base.mode:
        model = imgio.to_rgb(model).convert(base.mode)
    return Image.composite(model, base, weight)


def paste_original(canvas_result: Image.Image, original: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """A copy of `canvas_result` with `original` pasted unchanged at `box` = (x, y, width, height)
    (the convention of `Placement`, not Pillow's (left, top, right, bottom)). The original is
    converted to the canvas's mode; width and height must equal the original's size."""
    x, y, w, h = box
    if (w, h) != original.size:
        raise ImagingError(
            f"the box {w}x{h} at ({x}, {y}) does not match the original's size {original.width}x{original.height}."
        )
    if x < 0 or y < 0 or x + w > canvas_result.width or y + h > canvas_result.height:
        raise ImagingError(
            f"the box {w}x{h} at ({x}, {y}) lies outside the {canvas_result.width}x{canvas_result.height} canvas."
        )
    piece = original
    if piece.mode != canvas_result.mode:
        piece = imgio.to_rgb(piece).convert(canvas_result.mode)
    out = canvas_result.copy()
    out.paste(piece, (x, y))
    return out
