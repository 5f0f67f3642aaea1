"""What every tool shares: the server's state from the request, the one place errors become ToolErrors,
and result shaping."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent

from easel_mcp.errors import EaselError
from easel_mcp.imaging.formats import mime_type
from easel_mcp.schemas.results import ImageResult
from easel_mcp.service.previews import PreviewMode, result_previews
from easel_mcp.settings import Settings
from easel_mcp.studio import Studio
from easel_mcp.ui import VIEWER_URI

if TYPE_CHECKING:
    from easel_mcp.workspace import Workspace

log = logging.getLogger("easel_mcp")

__all__ = ["VIEWER_META", "PreviewMode", "shape_result", "studio_of", "tool_errors"]
# MCP Apps: hosts that support them render the result viewer beside these tools' results;
# other hosts ignore the key and get exactly the same result.
VIEWER_META: dict[str, Any] = {"ui": {"resourceUri": VIEWER_URI}}


def studio_of(ctx: Context | ServerRequestContext[Any, Any]) -> Studio:
    """The server's state: what its lifespan yielded (a request; an extension's handler), else the
    server's own (a direct `call_tool` without a session, as the CLI makes)."""
    state: object
    if not isinstance(ctx, Context):
        state = ctx.lifespan_context
    else:
        try:
            state = ctx.request_context.lifespan_context
        except ValueError:  # no request: the CLI's direct call
            state = getattr(ctx.mcp_server, "studio", None)
    if not isinstance(state, Studio):
        raise RuntimeError("the Easel tools run on build_server()'s server, whose lifespan yields the Studio")
    return state


@contextlib.contextmanager
def tool_errors() -> Iterator[None]:
    """Turn Easel's errors (the pixel layer's among them) into ToolErrors the agent can act on.

    Anything else propagates: the SDK logs its traceback on stderr and tells the model only
    that the tool failed, and the server keeps running."""
    try:
        yield
    except EaselError as e:
        raise ToolError(str(e)) from e


async def shape_result(
    result: ImageResult, *, preview: PreviewMode, settings: Settings, workspace: Workspace
) -> CallToolResult:
    """The structured result, mirrored as text, plus a ResourceLink and a small preview per image (read from
    `workspace`: the caller's, where the result's images were written)."""
    structured = result.model_dump(mode="json")
    blocks: list[ContentBlock] = [TextContent(text=json.dumps(structured, separators=(",", ":")))]
    previews = await anyio.to_thread.run_sync(
        result_previews,
        result,
        preview,
        settings.preview_budget_bytes,
        settings.preview_max_bytes_per_image,
        workspace,
    )
    for image, (block, note) in zip(result.images, previews, strict=True):
        blocks.append(
            ResourceLink(
                uri=image.uri,
                name=image.relative_path,
                title=f"{image.width}x{image.height} {image.format}",
                mime_type=mime_type(image.format),
                size=image.bytes,
            )
        )
        if block is not None:
            blocks.append(ImageContent(data=base64.b64encode(block.data).decode(), mime_type=block.mime_type))
        if note:
            result.warnings.append(note)
    if any(note for _, note in previews):
        structured = result.model_dump(mode="json")
        blocks[0] = TextContent(text=json.dumps(structured, separators=(",", ":")))
    return CallToolResult(content=blocks, structured_content=structured)
