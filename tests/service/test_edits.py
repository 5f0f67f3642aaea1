"""Inpaint and outpaint as calls: the prepared canvas is what is sent, and estimate_cost's geometry is the
real call's."""

from __future__ import annotations

import pytest

from easel_mcp.catalog.validate import resolve_options
from easel_mcp.inputs import LoadedInput
from easel_mcp.providers.base import EditRequest, InputImage
from easel_mcp.service.edits import inpaint_call, outpaint_call, plan_geometry
from tests.service.fakes import png

pytestmark = pytest.mark.anyio
MODEL = "gpt-image-1.5"


def source(width: int = 64, height: int = 48) -> LoadedInput:
    data = png(width, height)
    return LoadedInput("src.png", None, InputImage(data, "image-1.png", "image/png"), width, height, "0" * 64, None)


def options(output_format: str = "jpeg") -> object:
    return resolve_options(
        "edit",
        model=MODEL,
        provider="openai",
        prompt="sky",
        output_format=output_format,
        output_compression=80 if output_format == "jpeg" else None,
        image_count=1,
        has_mask=True,
    )


async def test_an_inpaint_call_sends_the_prepared_canvas_losslessly_and_keeps_the_options_it_was_given() -> None:
    given = options()
    call = await inpaint_call(
        "sky",
        given,
        "openai",
        "sky",
        source(),
        regions=[{"x": 4, "y": 4, "width": 20, "height": 10}],
        mask_data=None,
        convention="auto",
        feather=2,
        preserve_unmasked=True,
    )
    request = call.request
    assert isinstance(request, EditRequest) and request.mask and len(request.images) == 1
    assert request.images[0] is not call.inputs[0].image  # the canvas, not the source
    assert (request.output_format, request.output_compression) == ("png", None)
    assert call.options.output_format == "jpeg" and call.finish is not None
    assert given.size == "auto" and call.options.size == request.size != "auto"  # type: ignore[attr-defined]
    assert call.geometry and call.input_sizes == ((call.geometry["request_size"][0], call.geometry["request_size"][1]),)


async def test_estimate_cost_plans_the_geometry_the_real_outpaint_uses() -> None:
    call = await outpaint_call(
        "more sky",
        options("png"),
        "openai",
        "sky",
        source(),
        left=0,
        top=32,
        right=0,
        bottom=0,
        aspect_ratio=None,
        anchor="center",
        preserve_original=True,
    )
    size, geometry = plan_geometry("outpaint", (64, 48), MODEL, None, 0, 32, 0, 0, None, "center")
    assert call.geometry is not None
    assert geometry["request_size"] == call.geometry["request_size"] and list(size) == geometry["request_size"]
    assert geometry["canvas_size"] == call.geometry["canvas_size"] == [64, 80]
