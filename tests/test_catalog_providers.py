"""Per-provider differences as catalog data, and the Gemini model rows, sizes and prices."""

from __future__ import annotations

import re

import pytest

from easel_mcp.catalog import get_model
from easel_mcp.catalog.aspect import ASPECT_SIZES
from easel_mcp.catalog.estimate import estimate
from easel_mcp.catalog.models import DALLE2, GPT_FIXED
from easel_mcp.catalog.prices import cost_from_usage, price_row
from easel_mcp.catalog.validate import resolve_options
from easel_mcp.errors import InvalidRequest
from easel_mcp.providers import REGISTRY, all_profiles, model_for_provider
from easel_mcp.providers.gemini_sizes import image_config, nearest_ratio

GEMINI = ("gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-2.5-flash-image")


def test_every_provider_has_a_profile() -> None:
    assert [p.name for p in all_profiles()] == list(REGISTRY)


def test_without_a_provider_nothing_changes() -> None:
    opts = resolve_options("generate", model="gpt-image-1.5", prompt="x", output_format="webp")
    assert opts.output_format == "webp" and opts.quality == "auto" and opts.warnings == []


def test_azure_offers_no_webp() -> None:
    with pytest.raises(InvalidRequest, match=re.escape("webp output is not offered by azure; use png or jpeg")):
        resolve_options("generate", model="gpt-image-1.5", prompt="x", output_format="webp", provider="azure")
    assert (
        resolve_options(
            "generate", model="gpt-image-1.5", prompt="x", output_format="jpeg", provider="azure"
        ).output_format
        == "jpeg"
    )


@pytest.mark.parametrize(("model", "quality"), [("gpt-image-1.5", "high"), ("gpt-image-1-mini", "medium")])
def test_azure_renders_auto_quality_at_its_default(model: str, quality: str) -> None:
    opts = resolve_options("generate", model=model, prompt="x", quality="auto", provider="azure")
    assert opts.quality == quality
    assert f"azure renders quality auto as {quality} for {model}" in " ".join(opts.warnings)
    assert resolve_options("generate", model=model, prompt="x", quality="low", provider="azure").quality == "low"


def test_azure_drops_input_fidelity_on_mini_with_a_warning() -> None:
    opts = resolve_options(
        "edit", model="gpt-image-1-mini", prompt="x", image_count=1, input_fidelity="high", provider="azure"
    )
    assert opts.input_fidelity is None
    assert "input_fidelity is not accepted by gpt-image-1-mini on azure" in " ".join(opts.warnings)
    assert (
        resolve_options(
            "edit", model="gpt-image-1.5", prompt="x", image_count=1, input_fidelity="high", provider="azure"
        ).input_fidelity
        == "high"
    )


def test_models_of_another_upstream_are_refused_with_the_served_ones() -> None:
    with pytest.raises(
        InvalidRequest,
        match=re.escape(
            "gpt-image-1.5 is not served by the gemini provider; use one "
            "of gemini-3.1-flash-image, gemini-3-pro-image, "
            "gemini-2.5-flash-image"
        ),
    ):
        resolve_options("generate", model="gpt-image-1.5", prompt="x", provider="gemini")
    with pytest.raises(InvalidRequest, match="gemini-3-pro-image is not served by the openai provider"):
        resolve_options("generate", model="gemini-3-pro-image", prompt="x", provider="openai")
    # gateways and the offline renderer take anything (unknown models with a warning); the vendors'
    # own providers refuse models outside the catalog before sending (tests/test_security_args.py)
    for provider in ("compatible", "offline"):
        resolve_options("generate", model="gemini-3-pro-image", prompt="x", provider=provider)
        assert resolve_options("generate", model="flux-9", prompt="x", provider=provider).warnings
    with pytest.raises(InvalidRequest, match="not in Easel's catalog"):
        resolve_options("generate", model="flux-9", prompt="x", provider="gemini")


def test_model_for_provider() -> None:
    assert model_for_provider("gemini", "gpt-image-1.5") == "gemini-3.1-flash-image"
    assert model_for_provider("gemini", "gemini-3-pro-image") == "gemini-3-pro-image"
    assert model_for_provider("azure", "gpt-image-2") == "gpt-image-2"
    assert model_for_provider("compatible", "my-model") == "my-model"


@pytest.mark.parametrize("model", GEMINI)
def test_gemini_rows(model: str) -> None:
    spec = get_model(model)
    assert spec is not None and spec.family == "gemini" and spec.edits and not spec.masks and spec.mask_guidance
    assert spec.output_formats == ("png",) and spec.transparent_background == "no" and not spec.moderation
    assert spec.input_fidelity == () and not spec.streaming and spec.max_n == 4
    assert get_model(model + "-preview") is spec
    assert set(spec.sizes.fixed) == set(ASPECT_SIZES[model].all_sizes())
    for _, size in spec.sizes.named:
        assert spec.sizes.problem(size) is None
    row = price_row(model)
    assert row is not None and row.source.startswith("S:")


def test_gemini_validation() -> None:
    opts = resolve_options(
        "generate", model="gemini-3-pro-image", prompt="x", size="landscape", n=4, moderation="low", provider="gemini"
    )
    assert opts.size == "1264x848" and opts.moderation is None
    with pytest.raises(InvalidRequest, match=r"allowed sizes are the aspect-ratio sizes at 1K: 1024x1024 \(1:1\)"):
        resolve_options("generate", model="gemini-3-pro-image", prompt="x", size="1000x1000")
    with pytest.raises(InvalidRequest, match="n must be between 1 and 4"):
        resolve_options("generate", model="gemini-3-pro-image", prompt="x", n=5)
    with pytest.raises(InvalidRequest, match="cannot make transparent backgrounds"):
        resolve_options("generate", model="gemini-3-pro-image", prompt="x", background="transparent")
    with pytest.raises(InvalidRequest, match="output_format 'jpeg' is not offered by gemini-3-pro-image"):
        resolve_options("generate", model="gemini-3-pro-image", prompt="x", output_format="jpeg")
    # masks are accepted as guidance (the provider turns them into an instruction)
    assert resolve_options("edit", model="gemini-3-pro-image", prompt="x", image_count=2, has_mask=True)
    assert get_model("dall-e-2") is not None


@pytest.mark.parametrize(
    ("model", "size", "quality", "expected"),
    [
        ("gemini-3-pro-image", "auto", "low", (None, "1K")),
        ("gemini-3-pro-image", "auto", "high", (None, "2K")),
        ("gemini-3-pro-image", "auto", "auto", (None, None)),
        ("gemini-3-pro-image", "2752x1536", "low", ("16:9", "2K")),
        ("gemini-3-pro-image-preview", "1584x672", "high", ("21:9", "1K")),
        ("gemini-2.5-flash-image", "auto", "high", (None, None)),
        ("gemini-2.5-flash-image", "768x1344", "low", ("9:16", None)),
        ("some-gateway-gemini", "4000x1000", "low", ("21:9", "4K")),
    ],
)
def test_gemini_image_config(model: str, size: str, quality: str, expected: tuple[str | None, str | None]) -> None:
    assert image_config(model, size, quality) == expected


def test_nearest_ratio_is_symmetric() -> None:
    assert nearest_ratio((1000, 500)) == "16:9" and nearest_ratio((500, 1000)) == "9:16"
    assert nearest_ratio((1000, 1000)) == "1:1"


def test_best_fit_prefers_the_tier_nearest_in_area() -> None:
    rule = ASPECT_SIZES["gemini-3-pro-image"].size_rule()
    assert rule.best_fit(1024, 1024) == (1024, 1024)
    assert rule.best_fit(1900, 2000) == (2048, 2048)
    assert rule.best_fit(4096, 4000) == (4096, 4096)
    assert rule.best_fit(1820, 1024) == (1376, 768)  # 16:9 canvas of 1.9 MP: 1K (1.1 MP) is nearer than 2K (4.2)
    assert GPT_FIXED.best_fit(1820, 1024) == (1536, 1024)
    assert DALLE2.best_fit(600, 600) == (512, 512)


@pytest.mark.parametrize(
    ("model", "size", "quality", "per_image"),
    [
        ("gemini-2.5-flash-image", "auto", "auto", 0.039),
        ("gemini-3-pro-image", "auto", "high", 0.134),
        ("gemini-3-pro-image", "4096x4096", "low", 0.24),
        ("gemini-3.1-flash-image", "auto", "low", 0.067),
        ("gemini-3.1-flash-image", "1376x768", "high", 0.067),
        ("gemini-3.1-flash-image", "auto", "high", None),  # 2K: no published price
        ("gemini-3.1-flash-image", "2048x2048", "low", None),
    ],
)
def test_gemini_estimates(model: str, size: str, quality: str, per_image: float | None) -> None:
    est = estimate(model, size=size, quality=quality, n=2, prompt="a cat")
    assert est.per_image_usd == per_image
    if per_image is not None:
        assert est.total_usd == pytest.approx(2 * per_image)
        assert any("input tokens have no published price" in n for n in est.notes)


def test_gemini_cost_from_usage() -> None:
    usage = {
        "promptTokenCount": 20,
        "candidatesTokenCount": 1300,
        "totalTokenCount": 1320,
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}, {"modality": "TEXT", "tokenCount": 10}],
    }
    usd, note = cost_from_usage("gemini-2.5-flash-image", usage)
    assert usd == pytest.approx(0.0387) and note and "image output tokens only" in note
    no_details = {"promptTokenCount": 20, "candidatesTokenCount": 1290, "totalTokenCount": 1310}
    assert cost_from_usage("gemini-2.5-flash-image", no_details)[0] == pytest.approx(0.0387)
    assert cost_from_usage("gemini-3-pro-image", usage) == (None, "no token prices known for gemini-3-pro-image")
