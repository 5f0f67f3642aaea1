"""generate_image and edit_image: validate, build the Call, run it through the service, shape the result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ToolAnnotations

from easel_mcp.catalog.validate import resolve_options
from easel_mcp.progress import Progress
from easel_mcp.schemas.results import ImageResult
from easel_mcp.service.call import new_call
from easel_mcp.tools.common import VIEWER_META, shape_result, studio_of, tool_errors
from easel_mcp.tools.params import (
    Background,
    Compression,
    Count,
    DryRun,
    Fidelity,
    Images,
    MaskRef,
    Model,
    Moderation,
    Name,
    OutputFormat,
    PartialImages,
    Preview,
    Prompt,
    ProviderChoice,
    Quality,
    Size,
    Wait,
)

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

GENERATE_DESCRIPTION = """Create new images from a text prompt and save them in the workspace.

Returns the saved files (id, path, size), a small preview of each, and what the call cost.
Use the returned image id with edit_image, inpaint or outpaint to change an image."""

EDIT_DESCRIPTION = """Edit or combine existing workspace images according to a prompt.

The first image is edited; further images serve as references (e.g. "put the logo from image 2 on
the mug in image 1"). An optional mask limits where the model paints. Results are new files; the
inputs are never changed."""

WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)


async def generate_image(
    prompt: Prompt,
    ctx: Context,
    model: Model = None,
    provider: ProviderChoice = None,
    size: Size = "auto",
    quality: Quality = "auto",
    n: Count = 1,
    background: Background = "auto",
    output_format: OutputFormat = "png",
    output_compression: Compression = None,
    moderation: Moderation = None,
    name: Name = None,
    preview: Preview = "auto",
    partial_images: PartialImages = 0,
    dry_run: DryRun = False,
    wait: Wait = True,
) -> Annotated[CallToolResult, ImageResult]:
    studio = studio_of(ctx)
    progress = Progress(ctx)
    await progress.report("queued")
    with tool_errors():
        provider_name, model_name = studio.pick(provider, model)
        options = resolve_options(
            "generate",
            model=model_name,
            provider=provider_name,
            prompt=prompt,
            size=size,
            quality=quality,
            n=n,
            background=None if background == "auto" else background,
            output_format=output_format,
            output_compression=output_compression,
            moderation=moderation,
            partial_images=partial_images,
        )
        call = new_call("generate", prompt, options, provider_name, name or prompt)
        result = await studio.engine.run(call, dry_run=dry_run, progress=progress, wait=wait)
    return await shape_result(result, preview=preview, settings=studio.settings, workspace=studio.workspace)


async def edit_image(
    prompt: Prompt,
    images: Images,
    ctx: Context,
    mask: MaskRef = None,
    input_fidelity: Fidelity = None,
    model: Model = None,
    provider: ProviderChoice = None,
    size: Size = "auto",
    quality: Quality = "auto",
    n: Count = 1,
    background: Background = "auto",
    output_format: OutputFormat = "png",
    output_compression: Compression = None,
    name: Name = None,
    preview: Preview = "auto",
    partial_images: PartialImages = 0,
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
            size=size,
            quality=quality,
            n=n,
            background=None if background == "auto" else background,
            output_format=output_format,
            output_compression=output_compression,
            input_fidelity=input_fidelity,
            image_count=len(images),
            has_mask=mask is not None,
            partial_images=partial_images,
        )
        inputs = await studio.inputs.load(images)
        mask_png: bytes | None = None
        extra: dict[str, object] = {}
        if mask is not None:
            mask_png, extra = await studio.inputs.prepare_mask(mask, inputs[0])
        call = new_call(
            "edit", prompt, options, provider_name, name or prompt, inputs=inputs, mask=mask_png, mask_facts=extra
        )
        result = await studio.engine.run(call, dry_run=dry_run, progress=progress, wait=wait)
    return await shape_result(result, preview=preview, settings=studio.settings, workspace=studio.workspace)


def register(server: MCPServer) -> None:
    """Add generate_image and edit_image to `server`."""
    server.add_tool(
        generate_image,
        meta=VIEWER_META,
        title="Generate image",
        description=GENERATE_DESCRIPTION,
        annotations=WRITES.model_copy(update={"title": "Generate image"}),
    )
    server.add_tool(
        edit_image,
        meta=VIEWER_META,
        title="Edit image",
        description=EDIT_DESCRIPTION,
        annotations=WRITES.model_copy(update={"title": "Edit image"}),
    )
