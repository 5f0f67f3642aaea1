"""MCP Apps: the result viewer, with the mask painter inside it (HTML in easel_mcp/ui), and the app-only
tool the painter needs. Hosts without Apps never see any of it: the tools' results are the same either way,
and `save_mask` is listed only to clients that declared Apps."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

import anyio.to_thread
from mcp.server.apps import Apps
from mcp.server.mcpserver import Context
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from easel_mcp.errors import InvalidRequest
from easel_mcp.ui import VIEWER_URI, load_app_html

MAX_MASK_BYTES = 8 * 1024 * 1024


class SavedMask(BaseModel):
    path: str = Field(description="Workspace-relative path of the saved mask (pass it to inpaint as mask).")
    width: int
    height: int


async def save_mask(
    image: Annotated[str, Field(description="The id of the image the mask belongs to.")],
    mask_png_base64: Annotated[
        str, Field(description="The mask: a base64 PNG, white = repaint, black = keep, exactly the image's size.")
    ],
    ctx: Context,
) -> SavedMask:
    from easel_mcp.service.previews import save_mask as save
    from easel_mcp.tools.common import studio_of, tool_errors

    with tool_errors():
        if len(mask_png_base64) > MAX_MASK_BYTES * 4 // 3:
            raise InvalidRequest("the mask is too large (over 8 MB)", field="mask_png_base64")
        try:
            data = base64.b64decode(mask_png_base64, validate=True)
        except (binascii.Error, ValueError) as e:
            raise InvalidRequest("mask_png_base64 is not valid base64", field="mask_png_base64") from e
        workspace = studio_of(ctx).workspace
        path, width, height = await anyio.to_thread.run_sync(save, workspace, image, data)
        return SavedMask(path=path, width=width, height=height)


def build_apps() -> Apps:
    """The Apps extension: the viewer's HTML resource and the app-only `save_mask` tool."""
    apps = Apps()
    apps.add_html_resource(
        VIEWER_URI,
        load_app_html("viewer"),
        name="Easel image viewer",
        description="The images of a result, with edit, outpaint and a mask painter (inpaint).",
        prefers_border=True,
    )
    apps.tool(
        resource_uri=VIEWER_URI,
        visibility=["app"],
        name="save_mask",
        title="Save mask",
        annotations=ToolAnnotations(
            title="Save mask", read_only_hint=False, destructive_hint=False, open_world_hint=False
        ),
        description="Save a mask painted in the viewer's mask painter into the workspace (app only).",
    )(save_mask)
    return apps
