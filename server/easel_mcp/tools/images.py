"""generate_image and edit_image: validate, call the studio, shape the result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from easel_mcp.catalog.validate import resolve_options
from easel_mcp.progress import Progress
from easel_mcp.providers.base import EditRequest, GenerateRequest, ImageProvider, ProviderResult
from easel_mcp.schemas.results import ImageResult
from easel_mcp.studio import CallRecord, Studio
from easel_mcp.tools.common import PreviewMode, shape_result, tool_errors

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

# Parameter types shared by the image tools. Each description is written for the model.
Prompt = Annotated[str, Field(description="What the image should show: subject, style, composition, text to render.")]
Model = Annotated[
    str | None,
    Field(description="Image model, e.g. gpt-image-1.5 or gpt-image-2. Default: the server's configured model."),
]
Size = Annotated[
    str,
    Field(
        description="square, portrait, landscape, auto, or WIDTHxHEIGHT (gpt-image-1.5: 1024x1024, 1536x1024, "
        "1024x1536; gpt-image-2 models: any size with sides multiple of 16, up to 3840 px)."
    ),
]
Quality = Annotated[
    str,
    Field(description="low, medium, high or auto (gpt-image-2.5 also xhigh, max). Higher costs more."),
]
Count = Annotated[int, Field(ge=1, le=10, description="How many images to make (1-10); each is billed.")]
Background = Annotated[
    Literal["auto", "transparent", "opaque"],
    Field(description="transparent needs output_format png or webp."),
]
OutputFormat = Annotated[Literal["png", "jpeg", "webp"], Field(description="File format of the result.")]
Compression = Annotated[
    int | None, Field(ge=0, le=100, description="jpeg/webp only: compression 0-100 (higher = smaller file).")
]
Name = Annotated[
    str | None,
    Field(description="Short label for the file name (default: taken from the prompt). Never a path."),
]
Preview = Annotated[
    Literal["auto", "none", "full"],
    Field(
        description="auto: a small inline preview per image (about 200 KB in all); none: links only; full: the "
        "original inline when it fits 1 MiB."
    ),
]
Images = Annotated[
    list[str],
    Field(
        min_length=1,
        max_length=16,
        description="1-16 input images: paths relative to the workspace, or image ids from earlier results. "
        "The first image is the one that is edited.",
    ),
]
MaskRef = Annotated[
    str | None,
    Field(
        description="Optional mask (workspace path or image id) for the first image: transparent (or white on "
        "an opaque mask) marks where to paint. For boxes or ellipses use the inpaint tool."
    ),
]
Fidelity = Annotated[
    Literal["low", "high"] | None,
    Field(description="gpt-image-1/1.5 only: how closely to keep faces and details of the inputs (high costs more)."),
]
Moderation = Annotated[
    Literal["auto", "low"] | None, Field(description="Content moderation strictness for generations.")
]

GENERATE_DESCRIPTION = """Create new images from a text prompt and save them in the workspace.

Returns the saved files (id, path, size), a small preview of each, and what the call cost.
Use the returned image id with edit_image, inpaint or outpaint to change an image."""

EDIT_DESCRIPTION = """Edit or combine existing workspace images according to a prompt.

The first image is edited; further images serve as references (e.g. "put the logo from image 2 on
the mug in image 1"). An optional mask limits where the model paints. Results are new files; the
inputs are never changed."""


def register(server: MCPServer, studio: Studio) -> None:
    """Add the image tools to `server`, bound to `studio`."""

    async def generate_image(
        prompt: Prompt,
        ctx: Context,
        model: Model = None,
        size: Size = "auto",
        quality: Quality = "auto",
        n: Count = 1,
        background: Background = "auto",
        output_format: OutputFormat = "png",
        output_compression: Compression = None,
        moderation: Moderation = None,
        name: Name = None,
        preview: Preview = "auto",
    ) -> Annotated[CallToolResult, ImageResult]:
        progress = Progress(ctx)
        await progress.report("queued")
        with tool_errors():
            options = resolve_options(
                "generate",
                model=model or studio.settings.model,
                prompt=prompt,
                size=size,
                quality=quality,
                n=n,
                background=None if background == "auto" else background,
                output_format=output_format,
                output_compression=output_compression,
                moderation=moderation,
            )
            record = CallRecord("generate", prompt, options, studio.default_provider, name or prompt)
            estimate = studio.estimate(record)
            request = GenerateRequest(
                model=options.model,
                prompt=prompt,
                size=options.size,
                quality=options.quality,
                n=options.n,
                background=options.background,
                output_format=options.output_format,
                output_compression=options.output_compression,
                moderation=options.moderation,
            )

            async def call(provider: ImageProvider) -> ProviderResult:
                return await provider.generate(request)

            result = await studio.run(record, call, estimate_usd=estimate.total_usd, progress=progress)
        return await shape_result(result, preview=preview, budget_bytes=studio.settings.preview_budget_bytes)

    async def edit_image(
        prompt: Prompt,
        images: Images,
        ctx: Context,
        mask: MaskRef = None,
        input_fidelity: Fidelity = None,
        model: Model = None,
        size: Size = "auto",
        quality: Quality = "auto",
        n: Count = 1,
        background: Background = "auto",
        output_format: OutputFormat = "png",
        output_compression: Compression = None,
        name: Name = None,
        preview: Preview = "auto",
    ) -> Annotated[CallToolResult, ImageResult]:
        progress = Progress(ctx)
        await progress.report("queued")
        with tool_errors():
            options = resolve_options(
                "edit",
                model=model or studio.settings.model,
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
            )
            inputs = await studio.load_inputs(images)
            mask_png: bytes | None = None
            extra: dict[str, object] = {}
            if mask is not None:
                mask_png, extra = await studio.prepare_mask(mask, inputs[0])
            record = CallRecord("edit", prompt, options, studio.default_provider, name or prompt, inputs, extra)
            estimate = studio.estimate(record, input_sizes=[(i.width, i.height) for i in inputs])
            request = EditRequest(
                model=options.model,
                prompt=prompt,
                images=tuple(i.image for i in inputs),
                size=options.size,
                quality=options.quality,
                n=options.n,
                mask=mask_png,
                input_fidelity=options.input_fidelity,
                background=options.background,
                output_format=options.output_format,
                output_compression=options.output_compression,
            )

            async def call(provider: ImageProvider) -> ProviderResult:
                return await provider.edit(request)

            result = await studio.run(record, call, estimate_usd=estimate.total_usd, progress=progress)
        return await shape_result(result, preview=preview, budget_bytes=studio.settings.preview_budget_bytes)

    server.add_tool(
        generate_image,
        title="Generate image",
        description=GENERATE_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Generate image", read_only_hint=False, destructive_hint=False, idempotent_hint=False,
            open_world_hint=True,
        ),
    )
    server.add_tool(
        edit_image,
        title="Edit image",
        description=EDIT_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Edit image", read_only_hint=False, destructive_hint=False, idempotent_hint=False,
            open_world_hint=True,
        ),
    )


__all__ = ["PreviewMode", "register"]
