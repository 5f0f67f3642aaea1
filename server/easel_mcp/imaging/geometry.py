"""Inpaint and outpaint geometry: pure integer arithmetic, no Pillow (the cost estimator calls it).

All rounding is "half up" on exact fractions, so every plan is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal, get_args

from ..catalog.models import Size, SizeRule, format_size
from .errors import ImagingError

Anchor = Literal["center", "left", "right", "top", "bottom"]

MAX_CANVAS_PIXELS: Final = 8_294_400 * 4  # the same cap as io.MAX_PIXELS (not imported: no Pillow here)
FIXED_ASPECT_TOLERANCE: Final = 0.25  # a canvas may be this much wider/taller than a fixed size
_COMMON: Final = ((4, 1), (3, 1), (21, 9), (2, 1), (16, 9), (3, 2), (4, 3), (5, 4), (1, 1))


@dataclass(frozen=True)
class Placement:
    x: int
    y: int
    width: int
    height: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom), Pillow's convention."""
        return self.x, self.y, self.x + self.width, self.y + self.height


@dataclass(frozen=True)
class InpaintPlan:
    source_size: Size
    request_size: Size
    scale_x: float
    scale_y: float
    resized: bool


@dataclass(frozen=True)
class OutpaintPlan:
    source_size: Size
    canvas_size: Size  # grown canvas in source pixels: the final output size
    source_box: Placement  # where the source sits on the canvas (source px)
    request_size: Size  # what is sent to the model
    scale: float  # request px per canvas px (uniform)
    request_source_box: Placement  # where the scaled source sits in the request image
    grow: tuple[int, int, int, int]  # left, top, right, bottom in source px


def _rhu(q: Fraction) -> int:
    return math.floor(q + Fraction(1, 2))


def _ratio_text(q: Fraction) -> str:
    for a, b in _COMMON:
        for num, den in ((a, b), (b, a)):
            if q == Fraction(num, den):
                return f"{num}:{den}"
    return f"{float(q):.2f}:1" if q >= 1 else f"1:{float(1 / q):.2f}"


def _check_source(source: Size) -> None:
    if source[0] <= 0 or source[1] <= 0:
        raise ImagingError(f"the source size {format_size(source)} is not valid.")


def plan_inpaint(source: Size, rule: SizeRule, requested: Size | None = None) -> InpaintPlan:
    """The request size for inpainting `source`: `requested` when given (the caller validated it),
    else the source's own size when the model accepts it, else `rule.best_fit(source)`.

    The source is resized (stretched, never cropped) to the request size, and the model's output is
    scaled back to the source size. When the aspect ratios differ (fixed-size models) the model sees
    a slightly distorted image; that is harmless because the final composite restores every pixel
    outside the mask exactly, and the mask area is scaled back with the same factors.
    """
    _check_source(source)
    if requested is not None:
        request = requested
    elif rule.problem(source) is None:
        request = source
    else:
        request = rule.best_fit(*source)
    return InpaintPlan(source, request, request[0] / source[0], request[1] / source[1], request != source)


def parse_aspect(text: str) -> Fraction:
    """'16:9', '9/16', '2.39:1' or '1.5' as an exact width/height ratio."""
    t = text.strip().lower().replace(" ", "")
    try:
        if ":" in t:
            a, b = t.split(":")
            q = Fraction(a) / Fraction(b)
        else:
            q = Fraction(t)
    except (ValueError, ZeroDivisionError):
        q = Fraction(0)
    if q <= 0 or q > 100 or q < Fraction(1, 100):
        raise ImagingError(
            f"aspect_ratio {text!r} is not understood: write it as W:H (16:9, 1:1, 9:16, 4:3) or as a number "
            "such as 1.5."
        )
    return q


def _grow_to_aspect(source: Size, ratio: Fraction, anchor: Anchor, text: str) -> tuple[int, int, int, int]:
    w, h = source
    if ratio > Fraction(w, h):
        extra = _rhu(h * ratio) - w
        first = {"left": 0, "right": extra}.get(anchor, extra // 2)
        grow = (first, 0, extra - first, 0)
    else:
        extra = _rhu(w / ratio) - h
        first = {"top": 0, "bottom": extra}.get(anchor, extra // 2)
        grow = (0, first, 0, extra - first)
    if extra <= 0:
        raise ImagingError(
            f"the image is {format_size(source)}, already {text} as near as whole pixels allow: nothing to grow. "
            "Give another aspect_ratio or per-side pixels."
        )
    return grow


def _suggest(limit: float, wide: bool) -> str:
    for a, b in _COMMON:
        if a / b <= limit + 1e-9:
            return f"{a}:{b}" if wide else f"{b}:{a}"
    return "1:1"  # pragma: no cover - every rule allows 1:1 within tolerance


def _check_canvas(source: Size, canvas: Size, rule: SizeRule) -> None:
    cw, ch = canvas
    if cw * ch > MAX_CANVAS_PIXELS:
        raise ImagingError(
            f"the grown canvas would be {format_size(canvas)} = {cw * ch:,} pixels, over the "
            f"{MAX_CANVAS_PIXELS:,}-pixel limit: grow less or downscale the image first."
        )
    a = Fraction(cw, ch)
    wide = a >= 1
    if rule.flexible:
        limit = float(rule.max_aspect)
        widest = f"{limit:g}:1" if wide else f"1:{limit:g}"
        detail = f"the {'widest' if wide else 'tallest'} request this model accepts is {widest} (flexible sizes)"
    else:
        aspects = [Fraction(s[0], s[1]) for s in rule.fixed]
        best = max(aspects) if wide else min(aspects)
        limit = float(best if wide else 1 / best) * (1 + FIXED_ASPECT_TOLERANCE)
        size = next(s for s in rule.fixed if Fraction(s[0], s[1]) == best)
        detail = (
            f"the {'widest' if wide else 'tallest'} request size this model accepts is {format_size(size)} "
            f"({_ratio_text(best)}, fixed sizes) and a canvas may be at most {FIXED_ASPECT_TOLERANCE:.0%} "
            f"{'wider' if wide else 'taller'} ({_ratio_text(Fraction(limit).limit_denominator(100))})"
        )
    if max(a, 1 / a) <= Fraction(limit):
        return
    w, h = source
    room = math.floor(h * limit) - w if wide else math.floor(w * limit) - h
    sides = "left and right" if wide else "top and bottom"
    hint = f"grow at most {room} px in total to the {sides}" if room > 0 else f"do not grow the {sides}"
    raise ImagingError(
        f"the grown canvas would be {format_size(canvas)} ({_ratio_text(a)}), but {detail}: try aspect_ratio "
        f"{_suggest(limit, wide)}, or {hint} (growing the other sides as well also helps)."
    )


def plan_outpaint(
    source: Size,
    rule: SizeRule,
    *,
    left: int = 0,
    top: int = 0,
    right: int = 0,
    bottom: int = 0,
    aspect_ratio: str | None = None,
    anchor: Anchor = "center",
) -> OutpaintPlan:
    """Plan growing `source` outward.

    With `aspect_ratio` the canvas grows along one axis, minimally, to that ratio (rounded to whole
    pixels), the source placed by `anchor` (center: centred on the grown axis; left/right/top/bottom:
    touching that edge; an anchor on the other axis means center). With per-side pixels the canvas
    is the source plus the growth (anchor ignored). The request size is `rule.best_fit(canvas)`; the
    canvas is scaled uniformly to fit it and centred, and any leftover strip (aspect rounding, or a
    fixed size of a different aspect) is painted by the model too and cropped away afterwards.
    """
    _check_source(source)
    sides = {"left": left, "top": top, "right": right, "bottom": bottom}
    negative = [f"{k}={v}" for k, v in sides.items() if v < 0]
    if negative:
        raise ImagingError(f"growth cannot be negative ({', '.join(negative)}): give 0 or more pixels per side.")
    if anchor not in get_args(Anchor):
        raise ImagingError(f"anchor {anchor!r} is not valid: use center, left, right, top or bottom.")
    pixel_growth = any(sides.values())
    if aspect_ratio is not None and pixel_growth:
        raise ImagingError("give either aspect_ratio or per-side pixels (left/top/right/bottom), not both.")
    if aspect_ratio is None and not pixel_growth:
        raise ImagingError(
            "nothing to grow: give aspect_ratio (e.g. 16:9) or a number of pixels for left, top, right or bottom."
        )
    if aspect_ratio is not None:
        grow = _grow_to_aspect(source, parse_aspect(aspect_ratio), anchor, aspect_ratio)
    else:
        grow = (left, top, right, bottom)
    w, h = source
    canvas = (w + grow[0] + grow[2], h + grow[1] + grow[3])
    _check_canvas(source, canvas, rule)
    request = rule.best_fit(*canvas)
    scale = _scale(canvas, request)
    cbox = _canvas_box(canvas, request, scale)
    x0 = cbox.x + _rhu(grow[0] * scale)
    y0 = cbox.y + _rhu(grow[1] * scale)
    x1 = cbox.x + _rhu((grow[0] + w) * scale)
    y1 = cbox.y + _rhu((grow[1] + h) * scale)
    if x1 <= x0 or y1 <= y0:
        raise ImagingError(
            f"growing {format_size(source)} to {format_size(canvas)} would shrink the source below one pixel "
            "in the request: grow less."
        )
    return OutpaintPlan(
        source_size=source,
        canvas_size=canvas,
        source_box=Placement(grow[0], grow[1], w, h),
        request_size=request,
        scale=float(scale),
        request_source_box=Placement(x0, y0, x1 - x0, y1 - y0),
        grow=grow,
    )


def _scale(canvas: Size, request: Size) -> Fraction:
    return min(Fraction(request[0], canvas[0]), Fraction(request[1], canvas[1]))


def _canvas_box(canvas: Size, request: Size, scale: Fraction) -> Placement:
    sw = min(request[0], _rhu(canvas[0] * scale))
    sh = min(request[1], _rhu(canvas[1] * scale))
    return Placement((request[0] - sw) // 2, (request[1] - sh) // 2, sw, sh)


def request_canvas_box(plan: OutpaintPlan) -> Placement:
    """Where the scaled canvas lies inside the request image (the rest is cropped away)."""
    return _canvas_box(plan.canvas_size, plan.request_size, _scale(plan.canvas_size, plan.request_size))
