"""list_images and get_image: the agent's view of the workspace, from the image index (no rescans). The service
(service/gallery) reads the caller's index and workspace; the tools describe the parameters and shape the answer."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ImageContent, ResourceLink, TextContent, ToolAnnotations
from pydantic import Field

from easel_mcp.schemas.gallery import ImageDetail, ImageList
from easel_mcp.service import gallery
from easel_mcp.service.previews import Shown
from easel_mcp.tools.common import studio_of, tool_errors

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


async def list_images(
    ctx: Context,
    query: Annotated[str | None, Field(description="Words to find in the prompt, name, model or tool.")] = None,
    since: Annotated[str | None, Field(description="Only newer images: 7d, 24h, today, month or a date.")] = None,
    model: Annotated[str | None, Field(description="Only images made with this model.")] = None,
    tool: Annotated[
        str | None, Field(description="Only images from this tool: generate, edit, inpaint, outpaint.")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Images per page.")] = 20,
    cursor: Annotated[str | None, Field(description="next_cursor of the previous page.")] = None,
) -> ImageList:
    studio = studio_of(ctx)

    def page() -> ImageList:
        return gallery.list_images(
            studio.index, query=query, since=since, model=model, tool=tool, limit=limit, cursor=cursor
        )

    with tool_errors():
        return await anyio.to_thread.run_sync(page)


async def get_image(
    id: Annotated[str, Field(description="The image id (12 hex digits) from a result or list_images.")],
    ctx: Context,
    preview: Annotated[bool, Field(description="Include a small preview of the image.")] = True,
) -> Annotated[CallToolResult, ImageDetail]:
    studio = studio_of(ctx)

    def detail() -> tuple[ImageDetail, Shown | None]:
        max_bytes = studio.settings.preview_max_bytes_per_image
        return gallery.image_detail(studio.index, studio.workspace, id, preview=preview, preview_max_bytes=max_bytes)

    with tool_errors():
        image, data = await anyio.to_thread.run_sync(detail)
    structured = image.model_dump(mode="json")
    blocks: list[Any] = [
        TextContent(text=image.model_dump_json()),
        ResourceLink(
            uri=image.image.uri,
            name=image.image.relative_path,
            mime_type=f"image/{image.image.format}",
            size=image.image.bytes,
        ),
    ]
    if data is not None:
        blocks.append(ImageContent(data=base64.b64encode(data.data).decode(), mime_type=data.mime_type))
    return CallToolResult(content=blocks, structured_content=structured)


def register(server: MCPServer) -> None:
    server.add_tool(
        list_images,
        title="List images",
        annotations=READ_ONLY.model_copy(update={"title": "List images"}),
        description="The images in the workspace, newest first, filtered by words, date, model or tool; "
        "paginated with next_cursor. Each has an id to pass to the image tools.",
    )
    server.add_tool(
        get_image,
        title="Get image",
        annotations=READ_ONLY.model_copy(update={"title": "Get image"}),
        description="One image's details: every recorded parameter, its cost, the images it was made "
        "from and those made from it, and a small preview.",
    )
