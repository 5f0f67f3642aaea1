"""list_images and get_image: the agent's view of the workspace, from the image index (no rescans)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ImageContent, ResourceLink, TextContent, ToolAnnotations
from pydantic import Field

from easel_mcp.errors import FileTooLarge, ImageNotFound
from easel_mcp.schemas.gallery import ImageDetail, ImageList, ImageSummary
from easel_mcp.studio import Studio
from easel_mcp.tools.common import tool_errors
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


def register(server: MCPServer, studio: Studio) -> None:
    async def list_images(
        query: Annotated[str | None, Field(description="Words to find in the prompt, name, model or tool.")] = None,
        since: Annotated[str | None, Field(description="Only newer images: 7d, 24h, today, month or a date.")] = None,
        model: Annotated[str | None, Field(description="Only images made with this model.")] = None,
        tool: Annotated[
            str | None, Field(description="Only images from this tool: generate, edit, inpaint, outpaint.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Images per page.")] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page.")] = None,
    ) -> ImageList:
        from easel_mcp.ledger import parse_since

        with tool_errors():
            try:
                start = parse_since(since) if since else None
            except ValueError as e:
                raise ToolError(str(e)) from e

            def page() -> ImageList:
                index = studio.index
                index.refresh()
                try:
                    entries, next_cursor = index.query(
                        text=query, since=start, model=model, tool=tool, limit=limit, cursor=cursor
                    )
                except ValueError as e:  # a cursor it did not return, or a filter that is not text
                    raise ToolError(str(e)) from e
                return ImageList(images=[summary(e) for e in entries], next_cursor=next_cursor, total=index.count())

            return await anyio.to_thread.run_sync(page)

    async def get_image(
        id: Annotated[str, Field(description="The image id (12 hex digits) from a result or list_images.")],
        preview: Annotated[bool, Field(description="Include a small preview of the image.")] = True,
    ) -> Annotated[CallToolResult, ImageDetail]:
        def detail() -> tuple[ImageDetail, Any]:
            from easel_mcp.index_rows import find_entry

            index = studio.index
            index.refresh()
            try:
                entry = find_entry(index, studio.workspace, id.strip().lower())
            except ImageNotFound as e:
                raise ImageNotFound(
                    f"no image with id {id!r} in the workspace {studio.workspace.root}; list_images shows what there is"
                ) from e
            path = studio.workspace.root / entry.relative_path  # read below without following links
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
            data = None
            if preview:
                from easel_mcp.imaging.io import MAX_INPUT_BYTES
                from easel_mcp.imaging.preview import make_preview

                try:
                    raw = studio.workspace.read_file(path, limit=MAX_INPUT_BYTES, what=entry.relative_path)
                except ImageNotFound:  # deleted since it was indexed: the details, without a preview
                    return image, None
                except FileTooLarge as e:
                    raise ToolError(f"{e}; call get_image with preview=false for its details") from e
                data = make_preview(raw, studio.settings.preview_max_bytes_per_image, fmt="auto")
            return image, data

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
