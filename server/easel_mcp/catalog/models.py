"""Types of the catalog: what a model accepts, as data.

Nothing here knows a model by name; the rows live in `table.py`. Validation, the
outpaint geometry and the estimator all read the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from easel_mcp.sizes import Dimensions, format_size, parse_size

__all__ = ["Size", "format_size", "parse_size"]  # re-exported: sizes are owned by `easel_mcp.sizes`

Size = Dimensions  # the catalog's name for a (width, height) pair; `easel_mcp.sizes.Size` is the parsed value

Status = Literal["live", "deprecated", "retired", "listed"]


@dataclass(frozen=True, slots=True)
class SizeRule:
    """Which output sizes a model accepts.

    `fixed` non-empty: exactly those sizes. Empty: any WxH whose sides are multiples of
    `multiple`, whose pixel count is within [min_pixels, max_pixels], whose longest edge is
    at most `max_edge` and whose aspect ratio is at most `max_aspect`:1 either way.
    """

    fixed: tuple[Size, ...] = ()
    multiple: int = 16
    min_pixels: int = 655_360
    max_pixels: int = 8_294_400
    max_edge: int = 3840
    max_aspect: float = 3.0
    experimental_above: int | None = None  # pixel count above which sizes are "experimental"
    named: tuple[tuple[str, Size], ...] = (
        ("square", (1024, 1024)),
        ("landscape", (1536, 1024)),
        ("portrait", (1024, 1536)),
    )
    summary: str = ""  # how `describe` phrases a long fixed list (e.g. aspect-ratio sizes); "" lists them

    @property
    def flexible(self) -> bool:
        return not self.fixed

    def named_size(self, name: str) -> Size | None:
        return dict(self.named).get(name)

    def problem(self, size: Size) -> str | None:
        """Why `size` is not accepted, or None when it is."""
        w, h = size
        if w <= 0 or h <= 0:
            return "both sides must be positive"
        if self.fixed:
            if size in self.fixed:
                return None
            if self.summary:
                return f"allowed sizes are the {self.summary}"
            allowed = ", ".join(format_size(s) for s in self.fixed)
            return f"allowed sizes are {allowed} or auto"
        if w % self.multiple or h % self.multiple:
            return f"both sides must be multiples of {self.multiple}"
        if max(w, h) > self.max_edge:
            return f"the longest side must be at most {self.max_edge} px"
        if max(w, h) / min(w, h) > self.max_aspect:
            return f"the aspect ratio must be between 1:{self.max_aspect:g} and {self.max_aspect:g}:1"
        pixels = w * h
        if not self.min_pixels <= pixels <= self.max_pixels:
            return f"the pixel count must be between {self.min_pixels:,} and {self.max_pixels:,} (is {pixels:,})"
        return None

    def describe(self) -> str:
        if self.summary:
            return self.summary
        if self.fixed:
            return ", ".join(format_size(s) for s in self.fixed) + " or auto"
        return (
            f"any WxH with both sides multiples of {self.multiple}, aspect between 1:{self.max_aspect:g} and "
            f"{self.max_aspect:g}:1, {self.min_pixels:,} to {self.max_pixels:,} pixels, longest side at most "
            f"{self.max_edge}, or auto"
        )

    def best_fit(self, width: int, height: int) -> Size:
        """The accepted size closest to the aspect ratio of width x height, as large as allowed
        without exceeding the larger of (width*height) and the rule's minimum pixel count.

        For fixed rules: the size whose aspect ratio is closest (ties, i.e. the same ratio in several
        tiers: the area nearest width*height, then the larger)."""
        target = width / height
        if self.fixed:
            area = width * height
            return min(
                self.fixed,
                key=lambda s: (
                    round(abs(math.log((s[0] / s[1]) / target)), 9),
                    round(abs(math.log(s[0] * s[1] / area)), 9),
                    -s[0] * s[1],
                ),
            )
        aspect = min(max(target, 1 / self.max_aspect), self.max_aspect)
        # The longest-edge limit also caps the area at this aspect (3:1 with max_edge 3840: 3840x1280).
        edge_cap = self.max_edge * self.max_edge * min(aspect, 1 / aspect)
        pixels = min(max(width * height, self.min_pixels), self.max_pixels, edge_cap)
        best: Size | None = None
        best_key: tuple[float, float] | None = None
        m = self.multiple
        h_ideal = math.sqrt(pixels / aspect)
        for hh in range(max(m, int(h_ideal / m) * m - 4 * m), int(h_ideal / m) * m + 5 * m, m):
            for ww in {int(hh * aspect / m) * m, (int(hh * aspect / m) + 1) * m}:
                if ww <= 0 or self.problem((ww, hh)) is not None:
                    continue
                key = (abs(math.log((ww / hh) / aspect)), abs(ww * hh - pixels) / pixels)
                if best_key is None or key < best_key:
                    best, best_key = (ww, hh), key
        if best is None:  # pragma: no cover - the ranges above always contain a valid size
            raise ValueError(f"no valid size near {width}x{height}")
        return best


GPT_FIXED = SizeRule(fixed=((1024, 1024), (1536, 1024), (1024, 1536)))
GPT_FLEXIBLE = SizeRule(experimental_above=2560 * 1440)
DALLE3 = SizeRule(
    fixed=((1024, 1024), (1792, 1024), (1024, 1792)),
    named=(("square", (1024, 1024)), ("landscape", (1792, 1024)), ("portrait", (1024, 1792))),
)
DALLE2 = SizeRule(
    fixed=((256, 256), (512, 512), (1024, 1024)),
    named=(("square", (1024, 1024)),),
)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model as a row of data. `source` and `as_of` say where the facts come from."""

    name: str
    family: str
    status: Status
    sizes: SizeRule
    qualities: tuple[str, ...]
    source: str
    as_of: date
    status_date: date | None = None
    status_note: str = ""
    output_formats: tuple[str, ...] = ("png", "jpeg", "webp")
    edits: bool = True
    masks: bool = True
    max_input_images: int = 16
    transparent_background: Literal["yes", "preview", "no"] = "yes"
    input_fidelity: tuple[str, ...] = ()  # values accepted; empty: the field must be omitted
    moderation: bool = True  # generations only; edits never take it
    streaming: bool = True
    max_n: int = 10
    max_prompt_chars: int = 32_000
    extra_fields: tuple[str, ...] = ()
    aliases: tuple[str, ...] = field(default=())
    # masks=False models whose provider turns a mask into an instruction (guidance, not a hard mask)
    mask_guidance: bool = False
    # quality -> the size the model renders when size is auto (models whose tier follows quality)
    auto_size: tuple[tuple[str, Size], ...] = ()

    @property
    def usable(self) -> bool:
        return self.status != "retired" or self.family == "gpt-image-1"
