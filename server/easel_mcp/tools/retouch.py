"""inpaint and outpaint: an edit whose mask and canvas Easel builds, and whose answer it maps back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from easel_mcp.catalog.validate import resolve_options
from easel_mcp.errors import InvalidRequest
from easel_mcp.progress import Progress
from easel_mcp.schemas.results import ImageResult
from easel_mcp.service.edits import inpaint_call, outpaint_call
from easel_mcp.tools.common import VIEWER_META, shape_result, studio_of, tool_errors
from easel_mcp.tools.images import WRITES
from easel_mcp.tools.params import (
    Compression,
    Count,
    DryRun,
    Fidelity,
    Image,
    Model,
    Name,
    OutputFormat,
    Preview,
    Prompt,
    ProviderChoice,
    Quality,
    Region,
    Wait,
)

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

Regions = Annotated[
    list[Region] | None,
    Field(
        description='Boxes to repaint, in pixels of the image, e.g. [{"x": 120, "y": 80, "width": 300, '
        '"height": 400}]. Give regions or mask, not both.'
    ),
]
MaskFile = Annotated[
    str | None,
    Field(
        description="A mask image in the workspace (path or id) instead of regions: any size with the image's "
        "aspect ratio, black-and-white or transparent."
    ),
]
MaskConvention = Annotated[
    Literal["auto", "alpha", "white", "black"],
    Field(
        description="How to read the mask: auto (transparent = edit if it has transparency, else white = edit), "
        "alpha, white or black (the colour that marks the area to repaint)."
    ),
]
Feather = Annotated[
    int, Field(ge=0, le=64, description="Width in pixels of the soft blend around the repainted area (0 = hard edge).")
]
PreserveUnmasked = Annotated[
    bool, Field(description="true: every pixel outside the area (and its feather band) stays exactly as in the source.")
]
InpaintSize = Annotated[
    str,
    Field(
        description="Size sent to the model: auto (chosen from the image) or WxH. The "
        "result always has the source image's size."
    ),
]
Grow = Annotated[int, Field(ge=0, le=8192, description="Pixels to add on this side.")]
AspectRatio = Annotated[
    str | None,
    Field(
        description="Grow the canvas to this aspect ratio instead, e.g. 16:9, 1:1, "
        "9:16 (the original is kept whole). Not with per-side pixels."
    ),
]
AnchorParam = Annotated[
    Literal["center", "left", "right", "top", "bottom"],
    Field(description="With aspect_ratio: where the original sits on the grown canvas."),
]
PreserveOriginal = Annotated[
    bool,
    Field(
        description="true: the original pixels are pasted back at full "
        "resolution; the result has the grown canvas's exact size."
    ),
]

INPAINT_DESCRIPTION = """Repaint part of an image: the boxes in `regions` (or the area of a mask) change
according to the prompt, e.g. "remove the person" with regions [{x:120, y:80, width:300, height:400}].
Easel builds the mask at the image's exact size; the result keeps the image's size and, by default,
every pixel outside the area exactly."""

OUTPAINT_DESCRIPTION = """Extend an image beyond its borders: grow the canvas by pixels per side
(left/right/top/bottom) or to an aspect ratio (e.g. 16:9 for a banner); the model paints the new
area to match, and the original pixels are kept exactly. The result has the grown canvas's size."""


async def inpaint(
    image: Image,
    prompt: Prompt,
    ctx: Context,
    regions: Regions = None,
    mask: MaskFile = None,
    mask_convention: MaskConvention = "auto",
    feather: Feather = 4,
    preserve_unmasked: PreserveUnmasked = True,
    input_fidelity: Fidelity = None,
    model: Model = None,
    provider: ProviderChoice = None,
    size: InpaintSize = "auto",
    quality: Quality = "auto",
    n: Count = 1,
    output_format: OutputFormat = "png",
    output_compression: Compression = None,
    name: Name = None,
    preview: Preview = "auto",
    dry_run: DryRun = False,
    wait: Wait = True,
) -> Annotated[CallToolResult, ImageResult]:
    studio = studio_of(ctx)
    progress = Progress(ctx)
    await progress.report("queued")
    with tool_errors():
        if (regions is None) == (mask is None):
            raise InvalidRequest(
                "give either regions (boxes in pixels) or mask (a mask image), exactly one", field="regions"
            )
        provider_name, model_name = studio.pick(provider, model)
        options = resolve_options(
            "edit",
            model=model_name,
            provider=provider_name,
            prompt=prompt,
            size=size,
            quality=quality,
            n=n,
            output_format=output_format,
            output_compression=output_compression,
            input_fidelity=input_fidelity,
            image_count=1,
            has_mask=True,
        )
        [source] = await studio.inputs.load([image])
        mask_data = (await studio.inputs.read_ref(mask, what="the mask"))[1] if mask is not None else None
        call = await inpaint_call(
            prompt,
            options,
            provider_name,
            name or prompt,
            source,
            regions=[r.model_dump() for r in regions or []],
            mask_data=mask_data,
            convention=mask_convention,
            feather=feather,
            preserve_unmasked=preserve_unmasked,
        )
        result = await studio.engine.run(call, dry_run=dry_run, progress=progress, wait=wait)
    return await shape_result(result, preview=preview, settings=studio.settings, workspace=studio.workspace)


async def outpaint(
    image: Image,
    prompt: Prompt,
    ctx: Context,
    left: Grow = 0,
    right: Grow = 0,
    top: Grow = 0,
    bottom: Grow = 0,
    aspect_ratio: AspectRatio = None,
    anchor: AnchorParam = "center",
    preserve_original: PreserveOriginal = True,
    model: Model = None,
    provider: ProviderChoice = None,
    quality: Quality = "auto",
    n: Count = 1,
    output_format: OutputFormat = "png",
    output_compression: Compression = None,
    name: Name = None,
    preview: Preview = "auto",
    dry_run: DryRun = False,
    wait: Wait = True,
) -> Annotated[CallToolResult, ImageResult]:
    studio = studio_of(ctx)
    progress = Progress(ctx)
    await progress.report("queued")
    with tool_errors():
        provider_name, model_name = studio.pick(provider, model)
        options = resolve_options(
            "edit",
            model=model_name,
            provider=provider_name,
            prompt=prompt,
            quality=quality,
            n=n,
            output_format=output_format,
            output_compression=output_compression,
            image_count=1,
            has_mask=True,
        )
        [source] = await studio.inputs.load([image])
        call = await outpaint_call(
            prompt,
            options,
            provider_name,
            name or prompt,
            source,
            left=left,
            top=top,
            right=right,
            bottom=bottom,
            aspect_ratio=aspect_ratio,
            anchor=anchor,
            preserve_original=preserve_original,
        )
        result = await studio.engine.run(call, dry_run=dry_run, progress=progress, wait=wait)
    return await shape_result(result, preview=preview, settings=studio.settings, workspace=studio.workspace)


def register(server: MCPServer) -> None:
    """Add inpaint and outpaint to `server`."""
    server.add_tool(
        inpaint,
        meta=VIEWER_META,
        title="Inpaint",
        description=INPAINT_DESCRIPTION,
        annotations=WRITES.model_copy(update={"title": "Inpaint"}),
    )
    server.add_tool(
        outpaint,
        meta=VIEWER_META,
        title="Outpaint",
        description=OUTPAINT_DESCRIPTION,
        annotations=WRITES.model_copy(update={"title": "Outpaint"}),
    )
