"""The catalog's rules and prices, against the figures in image-apis.md."""

from __future__ import annotations

import pytest

from easel_mcp.catalog import all_models, get_model
from easel_mcp.catalog.estimate import estimate
from easel_mcp.catalog.prices import (
    PRICES,
    cost_from_usage,
    formula_tokens,
    input_image_tokens,
    price_row,
)
from easel_mcp.catalog.validate import resolve_options
from easel_mcp.errors import InvalidRequest


def test_every_model_has_a_dated_source_and_a_price_row() -> None:
    priced = {row.model for row in PRICES}
    for spec in all_models():
        assert spec.source and spec.as_of
        assert spec.name in priced, spec.name


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1024, 1024), (196, 1756, 7024)),
        ((1536, 1024), (158, 1372, 5488)),
        ((2048, 2048), (397, 3568, 14272)),
        ((3840, 2160), (371, 3336, 13342)),
    ],
)
def test_gpt_image_2_formula_check_values(size: tuple[int, int], expected: tuple[int, int, int]) -> None:
    assert tuple(formula_tokens(b, size) for b in (16, 48, 96)) == expected


@pytest.mark.parametrize(
    ("size", "quality", "usd"),
    [
        ("1024x1024", "low", 0.011),
        ("1024x1024", "medium", 0.042),
        ("1024x1024", "high", 0.167),
        ("1536x1024", "low", 0.016),
        ("1536x1024", "medium", 0.063),
        ("1024x1536", "high", 0.25),
    ],
)
def test_gpt_image_1_published_per_image_prices(size: str, quality: str, usd: float) -> None:
    est = estimate("gpt-image-1", size=size, quality=quality)
    assert est.per_image_usd == pytest.approx(usd, abs=0.0015)


def test_mini_uses_listed_prices() -> None:
    assert estimate("gpt-image-1-mini", size="1024x1024", quality="high").per_image_usd == 0.036
    assert estimate("gpt-image-1-mini", size="1536x1024", quality="low").per_image_usd == 0.006


def test_auto_quality_gives_a_range() -> None:
    est = estimate("gpt-image-1.5", size="auto", quality="auto", n=4)
    assert est.min_usd is not None and est.max_usd is not None
    assert est.min_usd < (est.total_usd or 0) < est.max_usd


def test_input_image_tokens() -> None:
    assert input_image_tokens((1024, 1024)) == 194
    assert input_image_tokens((1024, 1536)) == 65 + 129 * 2


def test_cost_from_usage_uses_split_prices() -> None:
    usage = {
        "input_tokens": 50,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
        "output_tokens": 4160,
        "total_tokens": 4210,
    }
    usd, note = cost_from_usage("gpt-image-1", usage)
    assert note is None
    assert usd == pytest.approx((10 * 5 + 40 * 10 + 4160 * 40) / 1e6)
    assert cost_from_usage("gpt-image-1", None) == (None, "the provider returned no usage")
    assert price_row("gpt-image-2-2026-04-21") is price_row("gpt-image-2")


def test_size_error_says_what_is_allowed() -> None:
    with pytest.raises(
        InvalidRequest, match="size 1000x1000 is not valid for gpt-image-2: both sides must be multiples of 16"
    ):
        resolve_options("generate", model="gpt-image-2", prompt="x", size="1000x1000")
    with pytest.raises(InvalidRequest, match="allowed sizes are 1024x1024, 1536x1024, 1024x1536"):
        resolve_options("generate", model="gpt-image-1.5", prompt="x", size="2048x2048")


def test_named_sizes_and_flexible_sizes() -> None:
    assert resolve_options("generate", model="gpt-image-1.5", prompt="x", size="landscape").size == "1536x1024"
    assert resolve_options("generate", model="gpt-image-2", prompt="x", size="2048x1152").size == "2048x1152"
    with pytest.raises(InvalidRequest, match="aspect ratio"):
        resolve_options("generate", model="gpt-image-2", prompt="x", size="3840x1024")


def test_fields_a_model_does_not_take_are_dropped_with_a_warning() -> None:
    opts = resolve_options(
        "edit", model="gpt-image-2", prompt="x", input_fidelity="high", image_count=1, moderation="low"
    )
    assert opts.input_fidelity is None and opts.moderation is None
    assert any("input_fidelity" in w for w in opts.warnings)
    assert (
        resolve_options("edit", model="gpt-image-1.5", prompt="x", input_fidelity="high", image_count=1).input_fidelity
        == "high"
    )


def test_invalid_combinations() -> None:
    with pytest.raises(InvalidRequest, match="transparent background needs"):
        resolve_options("generate", model="gpt-image-1.5", prompt="x", background="transparent", output_format="jpeg")
    with pytest.raises(InvalidRequest, match="output_compression applies only"):
        resolve_options("generate", model="gpt-image-1.5", prompt="x", output_compression=50)
    with pytest.raises(InvalidRequest, match="quality 'xhigh' is not valid"):
        resolve_options("generate", model="gpt-image-2", prompt="x", quality="xhigh")
    with pytest.raises(InvalidRequest, match="retired"):
        resolve_options("generate", model="dall-e-3", prompt="x")
    with pytest.raises(InvalidRequest, match="1 to 16 input images"):
        resolve_options("edit", model="gpt-image-1.5", prompt="x", image_count=17)


def test_unknown_models_pass_through_with_a_warning() -> None:
    opts = resolve_options("generate", model="my-gateway-model", prompt="x", size="777x333")
    assert opts.model == "my-gateway-model" and opts.size == "777x333"
    assert "not in Easel's catalog" in opts.warnings[0]
    assert get_model("my-gateway-model") is None


def test_retired_gpt_image_1_is_selectable_with_a_warning() -> None:
    opts = resolve_options("generate", model="gpt-image-1", prompt="x")
    assert any("2026-10-23" in w for w in opts.warnings)
