"""Aspect-ratio sizes (Gemini image models) as data: the sizes each model renders.

Gemini takes no WxH: a request names an aspect ratio ("16:9") and a size tier ("1K", "2K", "4K")
and the model renders a fixed size for that pair. Here each tier is a table ratio -> WxH (the
sizes the model renders), so the catalog's `SizeRule(fixed=...)` can list exactly those sizes.
Turning a size back into the wire's (aspectRatio, imageSize) is the provider's business
(`providers/gemini_sizes.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from easel_mcp.catalog.models import Size, SizeRule, format_size

# 1K sizes (S: Google's image-generation guide, copied in image-apis.md §5 as the ratio list).
GEMINI_3_1K: dict[str, Size] = {
    "1:1": (1024, 1024),
    "2:3": (848, 1264),
    "3:2": (1264, 848),
    "3:4": (896, 1200),
    "4:3": (1200, 896),
    "4:5": (928, 1152),
    "5:4": (1152, 928),
    "9:16": (768, 1376),
    "16:9": (1376, 768),
    "21:9": (1584, 672),
}
GEMINI_25_1K: dict[str, Size] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
# The extreme ratios of newer models (image-apis.md §5); sizes are representative (about 1 MP).
EXTREME_1K: dict[str, Size] = {"1:4": (512, 2048), "4:1": (2048, 512), "1:8": (384, 3072), "8:1": (3072, 384)}

TIER_SCALE = {"1K": 1, "2K": 2, "4K": 4}


@dataclass(frozen=True, slots=True)
class AspectSizes:
    """The sizes of one model: tier -> ratio -> WxH. `send_tier` False: `imageSize` is never sent."""

    tiers: dict[str, dict[str, Size]]
    send_tier: bool = True

    @property
    def ratios(self) -> tuple[str, ...]:
        return tuple(next(iter(self.tiers.values())))

    def all_sizes(self) -> tuple[Size, ...]:
        return tuple(s for table in self.tiers.values() for s in table.values())

    def summary(self) -> str:
        first_tier, first = next(iter(self.tiers.items()))
        pairs = ", ".join(f"{format_size(s)} ({r})" for r, s in first.items())
        more = [t for t in self.tiers if t != first_tier]
        scaled = (
            f"; {' and '.join(more)}: the same ratios at {' and '.join(f'{TIER_SCALE[t]}x' for t in more)} the sides"
            if more
            else ""
        )
        return f"aspect-ratio sizes at {first_tier}: {pairs}{scaled}; or auto"

    def size_rule(self) -> SizeRule:
        first = next(iter(self.tiers.values()))
        named = (("square", first["1:1"]), ("landscape", first["3:2"]), ("portrait", first["2:3"]))
        return SizeRule(fixed=self.all_sizes(), named=named, summary=self.summary())


def scaled(table: dict[str, Size], factor: int) -> dict[str, Size]:
    return {r: (w * factor, h * factor) for r, (w, h) in table.items()}


GEMINI_25_SIZES = AspectSizes({"1K": GEMINI_25_1K}, send_tier=False)
GEMINI_3_PRO_SIZES = AspectSizes({t: scaled(GEMINI_3_1K, f) for t, f in TIER_SCALE.items()})
GEMINI_31_FLASH_SIZES = AspectSizes({t: scaled(GEMINI_3_1K | EXTREME_1K, f) for t, f in TIER_SCALE.items()})

ASPECT_SIZES: dict[str, AspectSizes] = {
    "gemini-2.5-flash-image": GEMINI_25_SIZES,
    "gemini-3-pro-image": GEMINI_3_PRO_SIZES,
    "gemini-3.1-flash-image": GEMINI_31_FLASH_SIZES,
}
