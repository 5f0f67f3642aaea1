"""list_images and get_image: the agent's view of the workspace, from the image index (no rescans)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ImageContent, ResourceLink, TextContent, ToolAnnotations
from pydantic import Field

from easel_mcp.errors import ImageNotFound, InvalidRequest
from easel_mcp.schemas.gallery import ImageDetail, ImageList, ImageSummary
from easel_mcp.service.previews import Shown, image_preview
from easel_mcp.tools.common import studio_of, tool_errors
from easel_mcp.uris import image_uri

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from easel_mcp.index import ImageEntry

READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


def summary(entry: ImageEntry) -> ImageSummary:
    return ImageSummary(
        id=entry.id,
        relative_path=entry.relative_path,
        uri=image_uri(entry.id),
        created_at=entry.created_at,
        operation=entry.operation,
        prompt=entry.prompt,
        model=entry.model,
        provider=entry.provider,
        width=entry.width,
        height=entry.height,
        format=entry.format,
        bytes=entry.bytes,
        cost_usd=entry.cost_usd,
        parents=list(entry.parents),
    )


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
    from easel_mcp.budgets import parse_since

    studio = studio_of(ctx)
    with tool_errors():
        try:
            start = parse_since(since) if since else None
        except ValueError as e:
            raise InvalidRequest(str(e), field="since") from e

        def page() -> ImageList:
            index = studio.index
            index.refresh()
            try:
                entries, next_cursor = index.query(
                    text=query, since=start, model=model, tool=tool, limit=limit, cursor=cursor
                )
            except ValueError as e:  # a cursor it did not return, or a filter that is not text
                raise InvalidRequest(str(e), field="cursor") from e
            return ImageList(images=[summary(e) for e in entries], next_cursor=next_cursor, total=index.count())

        return await anyio.to_thread.run_sync(page)


async def get_image(
    id: Annotated[str, Field(description="The image id (12 hex digits) from a result or list_images.")],
    ctx: Context,
    preview: Annotated[bool, Field(description="Include a small preview of the image.")] = True,
) -> Annotated[CallToolResult, ImageDetail]:
    studio = studio_of(ctx)

    def detail() -> tuple[ImageDetail, Shown | None]:
        from easel_mcp.index_rows import find_entry

        index = studio.index
        index.refresh()
        try:  # the one resolver (with an object store: another replica's image is fetched into the local cache)
            entry = find_entry(index, studio.workspace, id.strip().lower())
        except ImageNotFound as e:
            raise InvalidRequest(
                f"no image with id {id!r} in the workspace {studio.workspace.root}; list_images shows what there is",
                field="id",
            ) from e
        path = studio.workspace.local_file(entry.relative_path)  # read below without following links
        parents = [p for p in (index.get(pid) for pid in entry.parents) if p is not None]
        side = studio.workspace.read_sidecar(path)
        image = ImageDetail(
            image=summary(entry),
            path=studio.workspace.result_path(entry.relative_path),
            sidecar=side.shown() if side else None,
            parents=[summary(p) for p in parents],
            children=[summary(c) for c in index.children(entry.id)],
            lineage=index.lineage(entry.id),
        )
        if not preview:
            return image, None
        # None when deleted since it was indexed: the details, without a preview
        shown = image_preview(studio.workspace, path, entry.relative_path, studio.settings.preview_max_bytes_per_image)
        return image, shown

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
