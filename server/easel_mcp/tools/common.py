"""What every image tool shares: the one place errors become ToolErrors, and result shaping."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent

from easel_mcp.errors import EaselError
from easel_mcp.imaging.formats import mime_type
from easel_mcp.schemas.results import ImageOut, ImageResult
from easel_mcp.settings import Settings
from easel_mcp.ui import VIEWER_URI
from easel_mcp.workspace import Workspace

log = logging.getLogger("easel_mcp")

PreviewMode = Literal["auto", "none", "full"]
# MCP Apps: hosts that support them render the result viewer beside these tools' results;
# other hosts ignore the key and get exactly the same result.
VIEWER_META: dict[str, Any] = {"ui": {"resourceUri": VIEWER_URI}}
FULL_PREVIEW_LIMIT = 1024 * 1024  # Claude Desktop refuses results over 1 MiB


@contextlib.contextmanager
def tool_errors() -> Iterator[None]:
    """Turn Easel's errors (the pixel layer's among them) into ToolErrors the agent can act on.

    Anything else propagates: the SDK logs its traceback on stderr and tells the model only
    that the tool failed, and the server keeps running."""
    try:
        yield
    except EaselError as e:
        raise ToolError(str(e)) from e


async def shape_result(result: ImageResult, *, preview: PreviewMode, settings: Settings) -> CallToolResult:
    """The structured result, mirrored as text, plus a ResourceLink and a small preview per image."""
    structured = result.model_dump(mode="json")
    blocks: list[ContentBlock] = [TextContent(text=json.dumps(structured, separators=(",", ":")))]
    previews = await anyio.to_thread.run_sync(
        _previews,
        result,
        preview,
        settings.preview_budget_bytes,
        settings.preview_max_bytes_per_image,
        Workspace(settings.workspace_path()).root,  # the images are read like every workspace file
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
            blocks.append(block)
        if note:
            result.warnings.append(note)
    if any(note for _, note in previews):
        structured = result.model_dump(mode="json")
        blocks[0] = TextContent(text=json.dumps(structured, separators=(",", ":")))
    return CallToolResult(content=blocks, structured_content=structured)


def _local_copy(root: Path, image: ImageOut) -> Path:
    """The local file of a result's image: its `path`, or with an object store (an s3:// path) the caller's cache."""
    if not image.path.startswith("s3://"):
        return Path(image.path)
    from easel_mcp.identity import current_user
    from easel_mcp.workspace import USERS_DIR, user_folder

    user = current_user()
    return (root if user is None else root / USERS_DIR / user_folder(user)) / image.relative_path


def _previews(
    result: ImageResult, mode: PreviewMode, budget_bytes: int, per_image_cap: int, root: Path
) -> list[tuple[ImageContent | None, str | None]]:
    import base64

    from easel_mcp.imaging.errors import ImagingError
    from easel_mcp.imaging.io import MAX_INPUT_BYTES
    from easel_mcp.imaging.preview import make_preview, preview_budget_split
    from easel_mcp.workspace_files import read_regular

    if mode == "none" or not result.images:
        return [(None, None) for _ in result.images]
    out: list[tuple[ImageContent | None, str | None]] = []
    per_image = min(per_image_cap, preview_budget_split(budget_bytes, len(result.images)))
    full_total = sum(i.bytes for i in result.images)
    for image in result.images:
        try:
            data = read_regular(root, _local_copy(root, image), limit=MAX_INPUT_BYTES, what=image.relative_path)
        except (OSError, EaselError) as e:  # saved and paid for: the result stands, without this preview
            out.append((None, f"no preview of {image.relative_path}: {e}"))
            continue
        note = None
        if mode == "full":
            if full_total * 4 // 3 <= FULL_PREVIEW_LIMIT:
                out.append(
                    (ImageContent(data=base64.b64encode(data).decode(), mime_type=mime_type(image.format)), None)
                )
                continue
            note = (
                f"preview=full: {image.relative_path} is too large to send inline within 1 MiB; a downscaled "
                "preview was sent instead (open the file or read the resource for the original)"
            )
        try:
            p = make_preview(data, per_image, fmt="auto")
        except ImagingError as e:
            out.append((None, f"no preview of {image.relative_path}: {e}"))
            continue
        out.append((ImageContent(data=base64.b64encode(p.data).decode(), mime_type=p.mime_type), note))
    return out
