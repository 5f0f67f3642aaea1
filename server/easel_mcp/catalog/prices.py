"""Prices as data: USD per 1M tokens, output-token tables and formulas, listed per-image prices.

Every row names its source and date (docs/reference/image-apis.md, section 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Literal

from easel_mcp.catalog.aspect import GEMINI_3_PRO_SIZES, GEMINI_31_FLASH_SIZES, AspectSizes
from easel_mcp.catalog.models import format_size

_AS_OF = date(2026, 11, 25)

# Output image tokens for models before gpt-image-2 (S; matches gpt-image-1's per-image prices).
LEGACY_OUTPUT_TOKENS: dict[str, dict[str, int]] = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
GPT2_BASES = {"low": 16, "medium": 48, "high": 96}
GPT25_BASES = {"low": 16, "medium": 24, "high": 48, "xhigh": 64, "max": 96}


@dataclass(frozen=True, slots=True)
class PriceRow:
    """What a model costs. Token prices are USD per 1M tokens; None means not published."""

    model: str
    text_in: float | None
    image_in: float | None
    image_out: float | None
    output_tokens: Literal["table", "formula", "none"]
    source: str
    as_of: date
    bases: dict[str, int] = field(default_factory=dict)  # formula bases per quality
    table: dict[str, dict[str, int]] = field(default_factory=dict)  # quality -> size -> tokens
    per_image: dict[str, dict[str, float]] = field(default_factory=dict)  # quality -> size|"*" -> USD
    note: str = ""

    def output_tokens_for(self, size: tuple[int, int], quality: str) -> int | None:
        """Output image tokens for one image, or None when the row cannot say."""
        if self.output_tokens == "table":
            return self.table.get(quality, {}).get(format_size(size))
        if self.output_tokens == "formula" and quality in self.bases:
            return formula_tokens(self.bases[quality], size)
        return None

    def listed_price(self, size: tuple[int, int], quality: str) -> float | None:
        prices = self.per_image.get(quality)
        if not prices:
            return None
        return prices.get(format_size(size), prices.get("*"))


def formula_tokens(base: int, size: tuple[int, int]) -> int:
    """gpt-image-2 family output tokens (OpenAI's cost calculator, S)."""
    w, h = size
    long_side, short_side = max(w, h), min(w, h)
    u = (2 * base * short_side + long_side) // (2 * long_side)
    return math.ceil(base * u * (2_000_000 + w * h) / 4_000_000)


def input_image_tokens(size: tuple[int, int]) -> int:
    """Tokens billed for one input image: scaled so its short side is 512 px, 65 + 129 per 512-px tile."""
    w, h = size
    scale = 512 / min(w, h)
    sw, sh = math.ceil(w * scale), math.ceil(h * scale)
    return 65 + 129 * math.ceil(sw / 512) * math.ceil(sh / 512)


def fidelity_tokens(size: tuple[int, int]) -> int:
    """Extra input tokens of input_fidelity=high (S): 4160 for a square first image, else 6240."""
    return 4160 if size[0] == size[1] else 6240


_S = "S: third-party copies of OpenAI's pricing page, via image-apis.md"
_P = "P-excerpt: OpenAI pricing, via image-apis.md"


def _gemini_prices(sizes: AspectSizes, usd_by_tier: dict[str, float]) -> dict[str, dict[str, float]]:
    """Listed per-image prices of a Gemini model by tier (quality does not change the price).
    Tiers without a published price are left out, so the estimate says "unknown" for them."""
    by_size = {
        format_size(s): usd_by_tier[t] for t, table in sizes.tiers.items() if t in usd_by_tier for s in table.values()
    }
    return {q: by_size for q in ("low", "medium", "high")}


_GEMINI_S = "S: Google's Gemini API pricing via image-apis.md §5"
GEMINI_PRICES: tuple[PriceRow, ...] = (
    PriceRow(
        "gemini-2.5-flash-image",
        None,
        None,
        30.00,
        "none",
        _GEMINI_S,
        _AS_OF,
        per_image={q: {"*": 0.039} for q in ("low", "medium", "high")},
        note="$0.039 per image (1290 output tokens at $30/1M); input tokens are not priced here",
    ),
    PriceRow(
        "gemini-3-pro-image",
        None,
        None,
        None,
        "none",
        _GEMINI_S,
        _AS_OF,
        per_image=_gemini_prices(GEMINI_3_PRO_SIZES, {"1K": 0.134, "2K": 0.134, "4K": 0.24}),
        note="$0.134 per image at 1K and 2K, $0.24 at 4K; token prices not published in the table",
    ),
    PriceRow(
        "gemini-3.1-flash-image",
        None,
        None,
        None,
        "none",
        _GEMINI_S,
        _AS_OF,
        per_image=_gemini_prices(GEMINI_31_FLASH_SIZES, {"1K": 0.067}),
        note="about $0.067 per image at 1K; 2K and 4K prices and token prices are not in the table",
    ),
)

PRICES: tuple[PriceRow, ...] = (
    PriceRow("gpt-image-1", 5.00, 10.00, 40.00, "table", _P, _AS_OF, table=LEGACY_OUTPUT_TOKENS),
    PriceRow(
        "gpt-image-1-mini",
        2.00,
        2.50,
        8.00,
        "table",
        _P,
        _AS_OF,
        table=LEGACY_OUTPUT_TOKENS,
        per_image={
            "low": {"1024x1024": 0.005, "*": 0.006},
            "medium": {"1024x1024": 0.011, "*": 0.015},
            "high": {"1024x1024": 0.036, "*": 0.052},
        },
        note="listed per-image prices are used for estimates (they do not follow from the token table)",
    ),
    PriceRow("gpt-image-1.5", 5.00, 8.00, 32.00, "table", _S, _AS_OF, table=LEGACY_OUTPUT_TOKENS),
    PriceRow(
        "chatgpt-image-latest",
        5.00,
        8.00,
        32.00,
        "table",
        "assumed equal to gpt-image-1.5 (no separate price published)",
        _AS_OF,
        table=LEGACY_OUTPUT_TOKENS,
    ),
    PriceRow("gpt-image-2", 5.00, 8.00, 30.00, "formula", _S, _AS_OF, bases=GPT2_BASES),
    PriceRow("gpt-image-2.5-sunburst", 5.00, 8.00, 30.00, "formula", _S, _AS_OF, bases=GPT25_BASES),
    PriceRow("gpt-image-2.5-flare", 5.00, 8.00, 30.00, "formula", _S, _AS_OF, bases=GPT25_BASES),
    PriceRow(
        "gpt-image-2.6-sunburst",
        None,
        None,
        None,
        "formula",
        "no published prices (SDK listing only)",
        _AS_OF,
        bases=GPT25_BASES,
        note="token counts follow the 2.5 formula; prices unknown",
    ),
    PriceRow(
        "gpt-image-2.6-flare",
        None,
        None,
        None,
        "formula",
        "no published prices (SDK listing only)",
        _AS_OF,
        bases=GPT25_BASES,
        note="token counts follow the 2.5 formula; prices unknown",
    ),
    PriceRow(
        "dall-e-3",
        None,
        None,
        None,
        "none",
        "retired; historical prices",
        _AS_OF,
        per_image={"standard": {"1024x1024": 0.040, "*": 0.080}, "hd": {"1024x1024": 0.080, "*": 0.120}},
    ),
    PriceRow(
        "dall-e-2",
        None,
        None,
        None,
        "none",
        "retired; historical prices",
        _AS_OF,
        per_image={"standard": {"256x256": 0.016, "512x512": 0.018, "1024x1024": 0.020}},
    ),
    *GEMINI_PRICES,
)


_BY_MODEL = {row.model: row for row in PRICES}
_OVERRIDES: dict[str, PriceRow] = {}
CUSTOM_PRICES: dict[str, PriceRow] = {}  # rows of the models EASEL_MODELS_FILE adds (catalog/custom.py)


def price_row(model: str) -> PriceRow | None:
    from easel_mcp.catalog import get_model

    if model in _OVERRIDES:
        return _OVERRIDES[model]
    spec = get_model(model)
    name = spec.name if spec else model
    return _OVERRIDES.get(name) or CUSTOM_PRICES.get(name) or _BY_MODEL.get(name)


def load_price_overrides(path: Path) -> list[str]:
    """Read EASEL_PRICES_FILE: {"model": {"text_in": 5, "image_in": 8, "image_out": 30, "source": "...",
    "as_of": "2026-11-01", ...}}. Fields not given keep the built-in row's values (a new model needs
    the three prices and output_tokens). Returns the model names overridden."""
    import json

    from easel_mcp.errors import ConfigurationError

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigurationError(f"EASEL_PRICES_FILE {path} cannot be read: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigurationError(f"EASEL_PRICES_FILE {path} must hold a JSON object of model -> price fields")
    allowed = set(PriceRow.__dataclass_fields__) - {"model"}
    rows: dict[str, PriceRow] = {}
    for model, fields_ in raw.items():
        if not isinstance(fields_, dict) or not set(fields_) <= allowed:
            bad = sorted(set(fields_) - allowed) if isinstance(fields_, dict) else fields_
            raise ConfigurationError(f"EASEL_PRICES_FILE: {model}: unknown fields {bad}; allowed: {sorted(allowed)}")
        values = dict(fields_)
        values["as_of"] = date.fromisoformat(str(values.get("as_of", date.today().isoformat())))
        values.setdefault("source", f"EASEL_PRICES_FILE {path.name}")
        base = CUSTOM_PRICES.get(model) or _BY_MODEL.get(model)
        try:
            rows[model] = replace(base, **values) if base else PriceRow(model=model, **values)
        except TypeError as e:
            raise ConfigurationError(f"EASEL_PRICES_FILE: {model}: {e}") from e
    _OVERRIDES.clear()
    _OVERRIDES.update(rows)
    return sorted(rows)


def cost_from_usage(model: str, usage: dict[str, object] | None) -> tuple[float | None, str | None]:
    """The billed cost of a call from the usage block the upstream returned: (usd, note).

    The note says why the cost is None, or what a partial cost leaves out (Gemini's input tokens)."""
    if usage is None:
        return None, "the provider returned no usage"
    row = price_row(model)
    if "candidatesTokenCount" in usage or "promptTokenCount" in usage:
        return _gemini_cost(model, row, usage)
    if row is None or row.text_in is None or row.image_in is None or row.image_out is None:
        return None, f"no token prices known for {model}"
    details = usage.get("input_tokens_details")
    input_tokens = _int(usage.get("input_tokens"))
    if isinstance(details, dict):
        text_tokens = _int(details.get("text_tokens"))
        image_tokens = _int(details.get("image_tokens"))
    else:
        text_tokens, image_tokens = input_tokens, 0
    output_tokens = _int(usage.get("output_tokens"))
    usd = (text_tokens * row.text_in + image_tokens * row.image_in + output_tokens * row.image_out) / 1_000_000
    return round(usd, 6), None


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _gemini_cost(model: str, row: PriceRow | None, usage: dict[str, object]) -> tuple[float | None, str | None]:
    """Gemini's usageMetadata: image output tokens (the IMAGE entry of candidatesTokensDetails, else
    candidatesTokenCount) at the image-out price; prompt tokens only when an input price is known."""
    if row is None or row.image_out is None:
        return None, f"no token prices known for {model}"
    image_tokens = _modality_tokens(usage.get("candidatesTokensDetails"), "IMAGE")
    if image_tokens is None:
        image_tokens = _int(usage.get("candidatesTokenCount"))
    usd = image_tokens * row.image_out / 1_000_000
    if row.text_in is not None:
        usd += _int(usage.get("promptTokenCount")) * row.text_in / 1_000_000
        return round(usd, 6), None
    return round(usd, 6), "image output tokens only: input tokens have no published price in the table"


def _modality_tokens(details: object, modality: str) -> int | None:
    if not isinstance(details, list):
        return None
    counts = [_int(d.get("tokenCount")) for d in details if isinstance(d, dict) and d.get("modality") == modality]
    return sum(counts) if counts else None
