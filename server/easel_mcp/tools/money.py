"""estimate_cost: what a call would cost, with the same validation and geometry as the real call."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Literal

import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp_types import ToolAnnotations
from pydantic import Field

from easel_mcp.catalog.listing import list_models as catalog_list
from easel_mcp.catalog.models import Size as SizeTuple
from easel_mcp.catalog.validate import resolve_options
from easel_mcp.errors import InvalidRequest
from easel_mcp.schemas.estimate import CostBreakdown, CostPart, EstimateResult
from easel_mcp.schemas.models import ModelsList
from easel_mcp.service.call import estimate_call
from easel_mcp.service.edits import Anchor, plan_geometry
from easel_mcp.tools.common import studio_of, tool_errors
from easel_mcp.tools.params import Count, Fidelity, Model, ProviderChoice, Quality, Region, Size

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

Operation = Annotated[
    Literal["generate", "edit", "inpaint", "outpaint"], Field(description="Which tool the estimate is for.")
]
OptionalImages = Annotated[
    list[str] | None,
    Field(description="edit/inpaint/outpaint: the input images (workspace paths or ids); their sizes matter."),
]
OptionalPrompt = Annotated[str, Field(description="The prompt, if known (text tokens are a tiny part of the cost).")]
PartialImages = Annotated[int, Field(ge=0, le=3, description="Partial images streamed (100 output tokens each).")]
Side = Annotated[int, Field(ge=0, le=8192, description="outpaint: pixels added on this side.")]

DESCRIPTION = """Price an image call before making it: no request is sent, nothing is written.

Give the same arguments as the call (operation generate, edit, inpaint or outpaint). Returns the
typical total in USD, a min/max range when quality or size is auto, a breakdown into text input,
image input and image output tokens, the price table's source and date, and the budget left.
Example: "4 landscape images at high quality" is operation=generate, size=landscape,
quality=high, n=4."""


async def estimate_cost(
    operation: Operation,
    ctx: Context,
    model: Model = None,
    provider: ProviderChoice = None,
    size: Size = "auto",
    quality: Quality = "auto",
    n: Count = 1,
    prompt: OptionalPrompt = "",
    images: OptionalImages = None,
    regions: Annotated[list[Region] | None, Field(description="inpaint: the boxes to repaint.")] = None,
    mask: Annotated[str | None, Field(description="inpaint: a mask image instead of regions.")] = None,
    left: Side = 0,
    right: Side = 0,
    top: Side = 0,
    bottom: Side = 0,
    aspect_ratio: Annotated[str | None, Field(description="outpaint: target aspect ratio, e.g. 16:9.")] = None,
    anchor: Annotated[Anchor, Field(description="outpaint: where the original sits.")] = "center",
    input_fidelity: Fidelity = None,
    partial_images: PartialImages = 0,
) -> EstimateResult:
    studio = studio_of(ctx)
    with tool_errors():
        refs = images or []
        if operation != "generate" and not refs:
            raise InvalidRequest(f"{operation} needs the input images: pass images=[...]", field="images")
        provider_name, model_name = studio.pick(provider, model)
        options = resolve_options(
            "generate" if operation == "generate" else "edit",
            model=model_name,
            provider=provider_name,
            prompt=prompt or "(prompt)",
            size=size,
            quality=quality,
            n=n,
            input_fidelity=input_fidelity,
            image_count=max(1, len(refs)),
        )
        inputs = await studio.inputs.load(refs) if refs else []
        sizes: list[SizeTuple] = [(i.width, i.height) for i in inputs]
        geometry = None
        if operation in ("inpaint", "outpaint"):
            request, geometry = await anyio.to_thread.run_sync(
                lambda: plan_geometry(
                    operation,
                    sizes[0],
                    options.model,
                    options.dimensions,
                    left,
                    top,
                    right,
                    bottom,
                    aspect_ratio,
                    anchor,
                )
            )
            options = replace(options, dimensions=request)
            sizes = [request]
        est = estimate_call(options, prompt, sizes, partial_images)
        left_usd = await studio.budget_left()
    return EstimateResult(
        operation=operation,
        model=est.model,
        size=options.size,
        quality=options.quality,
        n=options.n,
        total_usd=est.total_usd,
        min_usd=est.min_usd,
        max_usd=est.max_usd,
        per_image_usd=est.per_image_usd,
        breakdown=CostBreakdown(
            text_input=CostPart(tokens=est.text_input.tokens, usd=est.text_input.usd),
            image_input=CostPart(tokens=est.image_input.tokens, usd=est.image_input.usd),
            image_output=CostPart(tokens=est.image_output.tokens, usd=est.image_output.usd),
        ),
        price_source=est.source,
        price_as_of=est.as_of,
        notes=est.notes,
        budget_left_usd=left_usd,
        geometry=geometry,
        warnings=options.warnings,
    )


async def list_models(ctx: Context) -> ModelsList:
    studio = studio_of(ctx)
    settings = studio.settings
    return await anyio.to_thread.run_sync(
        lambda: catalog_list(studio.configured_providers(), studio.default_provider, settings.model)
    )


def register(server: MCPServer) -> None:
    server.add_tool(
        list_models,
        title="List models",
        description="The image models each configured provider offers: status (live, deprecated, retired), sizes, "
        "qualities, features (edit, mask, transparent background, input_fidelity, streaming) and prices.",
        annotations=ToolAnnotations(
            title="List models", read_only_hint=True, idempotent_hint=True, open_world_hint=False
        ),
    )
    server.add_tool(
        estimate_cost,
        title="Estimate cost",
        description=DESCRIPTION,
        annotations=ToolAnnotations(
            title="Estimate cost", read_only_hint=True, idempotent_hint=True, open_world_hint=False
        ),
    )
