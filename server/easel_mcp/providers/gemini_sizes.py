"""Gemini's wire sizes: Easel's size and quality as the request's (aspectRatio, imageSize).

The sizes each model renders are catalog facts (`catalog/aspect.py`); this is how the gemini provider
asks for them. Rules (documented for agents in the model rows' size summary):

* size auto: no aspectRatio is sent (text-only: the model picks, usually 1:1; edits: the first
  input's ratio), and the tier follows the quality: low/medium -> 1K, high -> 2K, auto -> none
  sent (the model's default, 1K). Models with a single tier never get `imageSize`.
* a WxH size (named sizes resolve to WxH first): the nearest aspect ratio the model offers, and
  the tier by the long side (exact table sizes map to their own tier).
"""

from __future__ import annotations

import math

from easel_mcp.catalog.aspect import ASPECT_SIZES, GEMINI_3_1K, TIER_SCALE
from easel_mcp.sizes import Dimensions, Size, as_size

DEFAULT_RATIOS = tuple(GEMINI_3_1K)  # for a Gemini model outside the catalog
QUALITY_TIER = {"low": "1K", "medium": "1K", "high": "2K"}


def _ratio_value(ratio: str) -> float:
    a, b = ratio.split(":")
    return int(a) / int(b)


def nearest_ratio(size: Dimensions, ratios: tuple[str, ...] = DEFAULT_RATIOS) -> str:
    """The offered ratio closest to width/height (by log distance, so 2:1 and 1:2 are symmetric)."""
    target = size[0] / size[1]
    return min(ratios, key=lambda r: abs(math.log(_ratio_value(r) / target)))


def tier_for_long_side(long_side: int, tiers: tuple[str, ...] = tuple(TIER_SCALE)) -> str:
    """1K up to 1600 px, 2K up to 3200 px, else 4K; the largest offered tier not above that."""
    wanted = "1K" if long_side <= 1600 else "2K" if long_side <= 3200 else "4K"
    offered = [t for t in TIER_SCALE if t in tiers] or ["1K"]
    lower = [t for t in offered if TIER_SCALE[t] <= TIER_SCALE[wanted]]
    return lower[-1] if lower else offered[0]


def image_config(model: str, size: Size | str | None, quality: str) -> tuple[str | None, str | None]:
    """(aspectRatio, imageSize) for a request; None means "leave the field out". `size`: the request's
    `dimensions` (None for auto); "WxH"/"auto" text is accepted from callers outside a call."""
    from easel_mcp.catalog import get_model

    spec = get_model(model)
    sizes = ASPECT_SIZES.get(spec.name if spec else model)
    ratios = sizes.ratios if sizes else DEFAULT_RATIOS
    tiers = tuple(sizes.tiers) if sizes else tuple(TIER_SCALE)
    send_tier = sizes.send_tier if sizes else True
    wh = as_size(size)
    if wh is None:  # auto
        tier = QUALITY_TIER.get(quality)
        return None, tier if send_tier and tier in tiers else None
    if sizes is not None:
        for tier, table in sizes.tiers.items():
            for ratio, exact in table.items():
                if exact == wh:
                    return ratio, tier if send_tier else None
    return nearest_ratio(wh, ratios), tier_for_long_side(max(wh), tiers) if send_tier else None
