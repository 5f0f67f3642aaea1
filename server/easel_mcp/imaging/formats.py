"""The image formats Easel accepts and writes, as one table: name, MIME type, file suffixes.

Base layer: imports nothing of easel_mcp (no Pillow either), so the app, the gallery, the tools and
the workspace can all read it cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

FORMATS: Final = ("png", "jpeg", "webp")
"""What Easel accepts as input and writes as output (Pillow decodes more; inputs are converted)."""
MIME_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
)
SUFFIX_FORMATS: Final[Mapping[str, str]] = MappingProxyType(
    {".png": "png", ".jpeg": "jpeg", ".jpg": "jpeg", ".webp": "webp"}
)
IMAGE_SUFFIXES: Final = tuple(SUFFIX_FORMATS)
"""The file suffixes of workspace images (lower case, with the dot)."""


def mime_type(fmt: str, default: str = "application/octet-stream") -> str:
    """'png' -> 'image/png' ('jpg' counts as jpeg); `default` for anything else."""
    f = fmt.lower().lstrip(".")
    return MIME_TYPES.get("jpeg" if f == "jpg" else f, default)


def format_of(path_or_suffix: str) -> str | None:
    """'x.JPG' or '.jpg' -> 'jpeg'; None when the suffix is not an image format Easel writes."""
    dot = path_or_suffix.rfind(".")
    return SUFFIX_FORMATS.get(path_or_suffix[dot:].lower()) if dot >= 0 else None


def mime_of_file(path_or_suffix: str, default: str = "application/octet-stream") -> str:
    """The MIME type of a workspace image by its name: 'fox.webp' -> 'image/webp'."""
    fmt = format_of(path_or_suffix)
    return MIME_TYPES[fmt] if fmt else default
