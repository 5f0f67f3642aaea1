"""A reservation is an upper bound of the bill (issue 13, item 3).

Every operation x size mode x model family runs through the real tools against the fakes, which bill
with the vendor's own rules from what they actually rendered (tests/fakes/openai_validation.py and
gemini_rules.py, independent of Easel's catalog); the ledger's reservation must cover the bill. A unit
test checks the estimator's maximum against the worst case the fake OpenAI server can bill.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from easel_mcp.app import build_server
from easel_mcp.catalog.estimate import estimate
from easel_mcp.settings import Settings
from tests.fakes import openai_validation as val
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai_images import FakeOpenAIImages, _output_size
from tests.helpers import png

pytestmark = pytest.mark.anyio

SOURCE = (3840, 2160)  # the attack run's input: a 4K frame (generate and edit)
RETOUCH_SOURCE = (2048, 1152)  # inpaint and outpaint: their request size is explicit, a smaller frame does
OPENAI_MODELS = {"gpt-image-1.5": "high", "gpt-image-2": "high", "gpt-image-2.5-flare": "auto"}
GEMINI_MODELS = {"gemini-3-pro-image": "high", "gemini-3.1-flash-image": "low", "gemini-2.5-flash-image": "auto"}
EXPLICIT = {
    "gpt-image-1.5": "1536x1024",
    "gpt-image-2": "3840x2160",
    "gpt-image-2.5-flare": "2880x2880",
    "gemini-3-pro-image": "4096x4096",
    "gemini-3.1-flash-image": "1024x1024",
    "gemini-2.5-flash-image": "1344x768",
}


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeOpenAIImages, FakeGemini]]:
    with FakeOpenAIImages() as openai, FakeGemini() as gemini:
        yield openai, gemini


def _arguments(operation: str, mode: str, model: str) -> dict[str, Any]:
    """The tool's arguments for one size mode. outpaint has no size: its request size follows the
    grown canvas, given as an aspect ratio ("named") or pixels per side ("explicit")."""
    quality = {**OPENAI_MODELS, **GEMINI_MODELS}[model]
    args: dict[str, Any] = {"prompt": "a kite", "model": model, "quality": quality, "n": 2}
    if operation == "outpaint":
        args |= {"aspect_ratio": "1:1"} if mode == "named" else {"right": 256, "bottom": 256}
        return args | {"image": "src.png"}
    args["size"] = {"named": "landscape", "explicit": EXPLICIT[model], "auto": "auto"}[mode]
    if operation in ("generate", "edit") and model in OPENAI_MODELS:
        args["partial_images"] = 3
    if operation == "edit":
        args["images"] = ["src.png", "src.png"]
    if operation == "inpaint":
        args |= {"image": "src.png", "regions": [{"x": 10, "y": 10, "width": 400, "height": 300}]}
    return args


CASES = [
    (op, mode, model)
    for op, mode, model in itertools.product(
        ("generate", "edit", "inpaint", "outpaint"), ("named", "explicit", "auto"), [*OPENAI_MODELS, *GEMINI_MODELS]
    )
    if not (op == "outpaint" and mode == "auto")
]


@pytest.mark.parametrize(("operation", "mode", "model"), CASES)
async def test_the_bill_never_exceeds_the_reservation(
    fakes: tuple[FakeOpenAIImages, FakeGemini], tmp_path: Path, operation: str, mode: str, model: str
) -> None:
    openai, gemini = fakes
    openai.reset()
    gemini.requests.clear()
    gemini.charged_usd, gemini.unpriced_images = 0.0, 0
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "src.png").write_bytes(png(SOURCE if operation in ("generate", "edit") else RETOUCH_SOURCE))
    on_gemini = model in GEMINI_MODELS
    settings = Settings(
        workspace=workspace,
        provider="gemini" if on_gemini else "openai",
        openai_api_key="sk-test",  # type: ignore[arg-type]
        openai_base_url=openai.base_url,
        gemini_api_key="gemini-test-key",  # type: ignore[arg-type]
        gemini_base_url=gemini.base_url,
        daily_budget_usd=1000.0,  # any limit: a call whose upper cost is unknown must be refused
        retry_max_attempts=1,
    )
    tool = {"generate": "generate_image", "edit": "edit_image"}.get(operation, operation)
    server = build_server(settings)
    async with Client(server) as client:
        result = await client.call_tool(tool, _arguments(operation, mode, model))
    rows = server.studio.ledger.rows()
    if result.is_error:  # refused before any request: only because the price of what it asks is unknown
        text = " ".join(getattr(b, "text", "") for b in result.content)
        assert "unknown" in text, text
        assert rows == [] and openai.requests == [] and gemini.requests == []
        return
    billed = gemini.charged_usd if on_gemini else openai.charged_usd
    assert gemini.unpriced_images == 0, "the fake rendered a tier without a listed price, yet Easel reserved a figure"
    assert len(rows) == 1 and billed > 0
    assert billed <= rows[0]["reserved_usd"] + 1e-9, (billed, rows[0]["reserved_usd"])
    assert rows[0]["cost_usd"] <= rows[0]["reserved_usd"] + 1e-9


# ------------------------------------------------------------------ the estimator against the fake's worst case

VALID_INPUTS = [(1024, 1024), (1536, 1024), (3840, 2160), (2880, 2880), (3840, 1280), (1280, 3840), (816, 816)]
INVALID_INPUTS = [(4000, 4000), (5000, 1000), (300, 200), (1000, 1000)]


def _fake_bill(
    model: str,
    *,
    size: str,
    quality: str,
    n: int,
    prompt: str,
    inputs: list[tuple[int, int]],
    fidelity: str | None,
    partials: int,
) -> float:
    """What the fake OpenAI server bills for this request (its own rules, openai_validation.py)."""
    from PIL import Image

    first = Image.new("RGB", inputs[0]) if inputs else None
    width, height = _output_size(size, model, first)
    info = val.model_info(model)
    q = "medium" if quality == "auto" or quality not in info.qualities else quality
    image_in = sum(val.input_image_tokens(w, h) for w, h in inputs)
    if inputs and fidelity == "high":
        image_in += val.fidelity_tokens(*inputs[0])
    output = (val.output_tokens(model, width, height, q) + val.PARTIAL_IMAGE_TOKENS * partials) * n
    return val.cost_usd(model, val.usage_block(val.text_tokens(prompt), image_in, output))


@pytest.mark.parametrize("model", ["gpt-image-1.5", "gpt-image-1-mini", "gpt-image-2", "gpt-image-2.5-sunburst"])
@pytest.mark.parametrize("inputs", [[], *([s] for s in VALID_INPUTS + INVALID_INPUTS), [(3840, 2160)] * 16])
def test_the_estimate_covers_the_worst_case_the_fake_can_bill(model: str, inputs: list[tuple[int, int]]) -> None:
    qualities = ["auto", *sorted(val.model_info(model).qualities - {"auto"})]
    sizes = ["auto", "1024x1024", "1536x1024", "1024x1536"]
    if val.model_info(model).family != "gpt-image-1":
        sizes += ["3840x2160", "2880x2880", "1280x3840"]
    fidelities = [None, "high"] if inputs and model == "gpt-image-1.5" else [None]
    prompt = "p" * 999
    for quality, size, fidelity, partials, n in itertools.product(qualities, sizes, fidelities, (0, 3), (2,)):
        est = estimate(
            model,
            size=size,
            quality=quality,
            n=n,
            prompt=prompt,
            input_sizes=inputs,
            input_fidelity=fidelity,
            partial_images=partials,
        )
        bill = _fake_bill(
            model,
            size=size,
            quality=quality,
            n=n,
            prompt=prompt,
            inputs=inputs,
            fidelity=fidelity,
            partials=partials,
        )
        assert est.upper_usd is not None
        assert bill <= est.upper_usd + 1e-9, (model, size, quality, fidelity, partials, n, inputs, bill, est.upper_usd)


@pytest.mark.parametrize("model", sorted(GEMINI_MODELS))
def test_the_gemini_estimate_covers_the_tier_the_fake_renders(model: str) -> None:
    """Gemini renders the tier Easel asks for (the fake: 1K when none is sent) and bills its listed price."""
    from easel_mcp.catalog import get_model
    from easel_mcp.catalog.models import format_size
    from easel_mcp.providers.gemini_sizes import image_config
    from tests.fakes.gemini_rules import IMAGE_PRICES_USD

    spec = get_model(model)
    assert spec is not None
    for quality, size, n in itertools.product(spec.qualities, ["auto", *map(format_size, spec.sizes.fixed)], (1, 4)):
        _, tier = image_config(model, size, quality)
        price = IMAGE_PRICES_USD[model].get(tier or "1K")
        upper = estimate(model, size=size, quality=quality, n=n, prompt="p", input_sizes=[SOURCE]).upper_usd
        if price is None:
            assert upper is None, (model, size, quality)  # unpriced: refused under any budget
        else:
            assert upper is not None and price * n <= upper + 1e-9, (model, size, quality, n, price, upper)
