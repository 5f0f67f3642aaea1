"""Small helpers shared by the MCP tests."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from mcp_types import CallToolResult
from PIL import Image


def result_bytes(result: CallToolResult) -> int:
    """What the agent's context receives: the serialized tool result."""
    return len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True)))


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    data = result.structured_content
    assert isinstance(data, dict)
    return data


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    return " ".join(getattr(block, "text", "") for block in result.content)


def previews(result: CallToolResult) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(b.data))) for b in result.content if b.type == "image"]


def png(size: tuple[int, int], color: tuple[int, ...] = (40, 120, 200), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, "PNG")
    return buf.getvalue()
