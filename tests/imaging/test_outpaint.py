"""Outpainting end to end in pixels, with a stand-in for the model."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from easel_mcp.catalog.models import GPT_FIXED, GPT_FLEXIBLE, SizeRule
from easel_mcp.imaging.errors import ImagingError
from easel_mcp.imaging.geometry import plan_outpaint, request_canvas_box
from easel_mcp.imaging.outpaint import build_outpaint_request, finish_outpaint


def _fake_model(request: Image.Image, mask_png: bytes, size: tuple[int, int] | None = None) -> Image.Image:
    """Paints every alpha-0 pixel of the mask orange and returns RGB, like the API would."""
    alpha = Image.open(io.BytesIO(mask_png)).getchannel("A")
    painted = Image.new("RGB", request.size, (255, 128, 0))
    out = Image.composite(request.convert("RGB"), painted, alpha)
    return out if size is None else out.resize(size, Image.Resampling.LANCZOS)


@pytest.mark.parametrize(
    ("rule", "kwargs"),
    [
        (GPT_FLEXIBLE, {"left": 256}),
        (GPT_FLEXIBLE, {"aspect_ratio": "16:9", "anchor": "right"}),
        (GPT_FIXED, {"aspect_ratio": "16:9"}),
        (GPT_FIXED, {"right": 100, "bottom": 50}),
    ],
)
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_outpaint_round_trip(rule: SizeRule, kwargs: dict[str, object], mode: str) -> None:
    source = Image.effect_noise((800, 600), 50).convert(mode)
    plan = plan_outpaint(source.size, rule, **kwargs)  # type: ignore[arg-type]
    request, mask_png = build_outpaint_request(source, plan)
    assert request.mode == "RGBA" and request.size == plan.request_size
    model = _fake_model(request, mask_png)
    result = finish_outpaint(model, source, plan)
    assert result.size == plan.canvas_size and result.mode == mode
    assert result.crop(plan.source_box.box).tobytes() == source.tobytes()  # byte-identical original
    outside = (
        (0, 0, plan.source_box.x, plan.canvas_size[1])
        if plan.source_box.x
        else (0, plan.canvas_size[1] - 1, plan.canvas_size[0], plan.canvas_size[1])
    )
    r, g, b = result.convert("RGB").crop(outside).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))  # type: ignore[misc]
    assert r > 200 and 90 < g < 170 and b < 60  # the model's paint fills the new area
    loose = finish_outpaint(model, source, plan, preserve_original=False)
    assert loose.size == plan.canvas_size


def test_model_answering_another_size_is_scaled() -> None:
    source = Image.effect_noise((1024, 1024), 50).convert("RGB")
    plan = plan_outpaint(source.size, GPT_FIXED, aspect_ratio="16:9")
    request, mask_png = build_outpaint_request(source, plan)
    result = finish_outpaint(_fake_model(request, mask_png, (768, 512)), source, plan)
    assert result.size == plan.canvas_size == (1820, 1024)
    assert result.crop(plan.source_box.box).tobytes() == source.tobytes()
    cbox = request_canvas_box(plan)
    assert (cbox.width, cbox.height) == (1536, 864)


def test_wrong_source_refused() -> None:
    plan = plan_outpaint((800, 600), GPT_FLEXIBLE, left=64)
    with pytest.raises(ImagingError, match="plan again"):
        build_outpaint_request(Image.new("RGB", (600, 800)), plan)
