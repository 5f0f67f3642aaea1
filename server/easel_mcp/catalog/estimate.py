"""The cost estimator: pure arithmetic over the catalog's price rows. No network, no files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from easel_mcp.catalog import get_model
from easel_mcp.catalog.models import format_size
from easel_mcp.catalog.prices import PriceRow, fidelity_tokens, input_image_tokens, price_row
from easel_mcp.sizes import Dimensions, Size, as_size

TYPICAL_QUALITY = "medium"
TYPICAL_SIZE = (1024, 1024)
PARTIAL_IMAGE_TOKENS = 100


@dataclass(frozen=True, slots=True)
class CostLine:
    tokens: int | None
    usd: float | None


@dataclass(slots=True)
class Estimate:
    model: str
    total_usd: float | None
    min_usd: float | None
    max_usd: float | None
    per_image_usd: float | None
    text_input: CostLine
    image_input: CostLine
    image_output: CostLine
    source: str | None
    as_of: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def upper_usd(self) -> float | None:
        return self.max_usd if self.max_usd is not None else self.total_usd


def text_tokens(prompt: str) -> int:
    """A close estimate of o200k_base tokens (about 4 characters each) plus a few of overhead."""
    return max(1, (len(prompt) + 3) // 4) + 8


def _qualities(row: PriceRow, quality: str, model: str) -> list[str]:
    if quality != "auto":
        return [quality]
    spec = get_model(model)
    options = [q for q in (spec.qualities if spec else ("low", "medium", "high")) if q != "auto"]
    return options or ["medium"]


def _sizes(size: Size | None, model: str, quality: str, first_input: tuple[int, int] | None) -> list[tuple[int, int]]:
    """Every output size the request can produce. With size auto (None): the size the quality picks (Gemini
    tiers), else the model's named sizes, and for an edit on a model that takes any size also the
    size nearest the first input's (the upstream follows the input's size, up to the model's max)."""
    if size is not None:
        return [size]
    spec = get_model(model)
    if spec is None:
        return [TYPICAL_SIZE, (1536, 1024), (1024, 1536)]
    auto = dict(spec.auto_size).get(quality)  # models whose size tier follows the quality
    if auto:
        return [auto]
    sizes = [s for _, s in spec.sizes.named]
    if first_input is not None and spec.sizes.flexible:
        sizes.append(spec.sizes.best_fit(*first_input))
    return sizes


def _typical_size(size: Size | None, model: str, quality: str, first_input: tuple[int, int] | None) -> tuple[int, int]:
    if size is not None:
        return size
    spec = get_model(model)
    if spec is not None and first_input is not None and spec.sizes.flexible:
        return spec.sizes.best_fit(*first_input)  # auto on an edit follows the input's size
    return (dict(spec.auto_size).get(quality) if spec else None) or TYPICAL_SIZE


def _image_usd(row: PriceRow, listed: float | None, tokens: int | None, partial_images: int) -> float | None:
    """One image's price: the listed figure, else its output tokens at the image-out price; partial
    images add their output tokens to either (the upstream bills them as tokens)."""
    partial_usd = PARTIAL_IMAGE_TOKENS * partial_images * (row.image_out or 0) / 1e6
    if listed is not None:
        return listed + partial_usd
    if tokens is not None and row.image_out is not None:
        return tokens * row.image_out / 1e6 + partial_usd
    return None


def estimate(
    model: str,
    *,
    size: Size | Dimensions | str | None = None,
    quality: str = "auto",
    n: int = 1,
    prompt: str = "",
    input_sizes: Sequence[tuple[int, int]] = (),
    input_fidelity: str | None = None,
    partial_images: int = 0,
) -> Estimate:
    """Estimate what a generate (no input_sizes) or edit call will cost. `size`: a call passes its options'
    parsed Size (None for auto); "WxH"/"auto" text is accepted from callers outside a call."""
    wanted = as_size(size)
    row = price_row(model)
    notes: list[str] = []
    empty = CostLine(None, None)
    if row is None:
        return Estimate(
            model,
            None,
            None,
            None,
            None,
            empty,
            empty,
            empty,
            None,
            None,
            [f"{model} is not in the price table; the cost is unknown until the provider reports usage"],
        )

    t_tokens = text_tokens(prompt) if prompt else 0
    i_tokens = sum(input_image_tokens(s) for s in input_sizes)
    if input_sizes and input_fidelity == "high":
        i_tokens += fidelity_tokens(input_sizes[0])
    if input_sizes:
        notes.append(
            "input-image tokens follow the documented 512-px tile rule"
            + ("" if row.output_tokens == "table" else "; for this model they are undocumented (estimate)")
        )
    if prompt:
        notes.append("text tokens are estimated from the prompt length (under 1% of the cost)")

    first_input = input_sizes[0] if input_sizes else None
    outcomes: list[tuple[float | None, int | None]] = []  # (usd per image, output tokens per image)
    for q in _qualities(row, quality, model):
        for s in _sizes(wanted, model, q, first_input):
            tokens = row.output_tokens_for(s, q)
            outcomes.append((_image_usd(row, row.listed_price(s, q), tokens, partial_images), tokens))
    if row.per_image:
        notes.append(f"{row.model}: {row.note or 'listed per-image prices'}")
    typical_q = quality if quality != "auto" else TYPICAL_QUALITY
    typical_s = _typical_size(wanted, model, typical_q, first_input)
    typical_tokens = row.output_tokens_for(typical_s, typical_q)
    typical_usd = _image_usd(row, row.listed_price(typical_s, typical_q), typical_tokens, partial_images)
    if quality == "auto" or wanted is None:
        notes.append(
            "quality or size is auto: the typical figure assumes "
            f"{typical_q} at {format_size(typical_s)}; min/max bound the range"
        )

    input_usd = None
    if row.text_in is not None and row.image_in is not None:
        input_usd = (t_tokens * row.text_in + i_tokens * row.image_in) / 1e6
    elif row.per_image and (t_tokens or i_tokens):
        input_usd = 0.0  # listed per-image prices; the input has no published price
        notes.append(
            "input tokens have no published price for this model: the figure is the listed per-image price only"
        )
    elif row.per_image:
        input_usd = 0.0
    known = [usd for usd, _ in outcomes if usd is not None]
    if typical_usd is None or input_usd is None or not known:
        notes.append(row.note or f"no published prices for {row.model}")
        return Estimate(
            row.model,
            None,
            None,
            None,
            None,
            CostLine(t_tokens, None),
            CostLine(i_tokens, None),
            CostLine(typical_tokens * n if typical_tokens else None, None),
            row.source,
            row.as_of.isoformat(),
            notes,
        )
    # Input tokens are billed once per call, output per image.
    total = input_usd + typical_usd * n
    low = input_usd + min(known) * n
    high = input_usd + max(known) * n
    open_ended = len(outcomes) > 1
    return Estimate(
        model=row.model,
        total_usd=round(total, 6),
        min_usd=round(low, 6) if open_ended else None,
        max_usd=round(high, 6) if open_ended else None,
        per_image_usd=round(typical_usd, 6),
        text_input=CostLine(t_tokens, round(t_tokens * (row.text_in or 0) / 1e6, 6)),
        image_input=CostLine(i_tokens, round(i_tokens * (row.image_in or 0) / 1e6, 6)),
        image_output=CostLine(
            (typical_tokens + PARTIAL_IMAGE_TOKENS * partial_images) * n if typical_tokens is not None else None,
            round(typical_usd * n, 6),
        ),
        source=row.source,
        as_of=row.as_of.isoformat(),
        notes=notes,
    )
