"""The one small interface every upstream implements, and the data that crosses it.

A provider owns its credentials, base URL and HTTP client (built on first use, kept for the
server's lifetime), speaks its wire format, and translates its vendor's exceptions into
`easel_mcp.errors.ProviderError` at one boundary. It knows nothing of MCP or the workspace.
"""

from __future__ import annotations

import io
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    from easel_mcp.settings import Settings

PartialCallback = Callable[[int, bytes], Awaitable[None]]
"""Called with (index, image bytes) for each partial image a streaming upstream sends."""


@dataclass(frozen=True, slots=True)
class InputImage:
    """An image sent upstream, as it is on disk (no decode and re-encode when valid).

    Either `data` holds the bytes, or `path` names a checked workspace file that is streamed from
    disk when the request is sent (so 16 large inputs are never all in memory at once)."""

    data: bytes
    filename: str
    mime_type: str
    path: Path | None = None
    size: int = 0

    def read(self) -> bytes:
        """The bytes (read from `path` when the image was not kept in memory)."""
        if self.path is None:
            return self.data
        with self.open() as f:
            return f.read()

    def open(self) -> BinaryIO:
        """A binary file object positioned at the start (a new one each call: retries re-read it)."""
        if self.path is None:
            return io.BytesIO(self.data)
        # O_NOFOLLOW: the path was checked after resolving symlinks; a symlink swapped in since is refused
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        return os.fdopen(fd, "rb")


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    model: str
    prompt: str
    size: str  # "1024x1024" or "auto"
    quality: str
    n: int = 1
    background: str | None = None
    output_format: str = "png"
    output_compression: int | None = None
    moderation: str | None = None
    partial_images: int = 0
    on_partial: PartialCallback | None = field(default=None, compare=False)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EditRequest:
    model: str
    prompt: str
    images: tuple[InputImage, ...]
    size: str
    quality: str
    n: int = 1
    mask: bytes | None = None
    input_fidelity: str | None = None
    background: str | None = None
    output_format: str = "png"
    output_compression: int | None = None
    partial_images: int = 0
    on_partial: PartialCallback | None = field(default=None, compare=False)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ProviderResult:
    """What came back: image bytes in `output_format`, the usage block as the vendor sent it."""

    images: list[bytes]
    output_format: str
    usage: dict[str, Any] | None
    request_id: str | None = None
    revised_prompts: list[str | None] = field(default_factory=list)
    size: str | None = None
    quality: str | None = None
    background: str | None = None
    ai_generated: bool = True
    notes: list[str] = field(default_factory=list)


@runtime_checkable
class ImageProvider(Protocol):
    """An upstream image service."""

    name: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build the provider from settings; a missing credential raises `ConfigurationError` naming
        the variables to set ("the X provider needs ...: set VAR ...")."""
        ...

    async def generate(self, request: GenerateRequest) -> ProviderResult: ...

    async def edit(self, request: EditRequest) -> ProviderResult: ...

    async def aclose(self) -> None: ...
