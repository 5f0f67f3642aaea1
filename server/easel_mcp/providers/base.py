"""The one small interface every upstream implements, and the data that crosses it.

A provider owns its credentials, base URL and HTTP client (built on first use, kept for the
server's lifetime), speaks its wire format, and translates its vendor's exceptions into
`easel_mcp.errors.ProviderError` at one boundary. It knows nothing of MCP or the workspace.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Protocol, Self, runtime_checkable

from easel_mcp.sizes import Size, as_size

if TYPE_CHECKING:
    from easel_mcp.checked import CheckedFile
    from easel_mcp.providers.profile import ProviderProfile
    from easel_mcp.settings import Settings

PartialCallback = Callable[[int, bytes], Awaitable[None]]
"""Called with (index, image bytes) for each partial image a streaming upstream sends."""


@dataclass(frozen=True, slots=True)
class InputImage:
    """An image sent upstream, as it is on disk (no decode and re-encode when valid).

    Either `data` holds the bytes, or `file` is the checked workspace file, held open since it was
    checked and streamed from it when the request is sent (so 16 large inputs are never all in memory
    at once, and a path swapped since the check cannot change what is sent)."""

    data: bytes
    filename: str
    mime_type: str
    file: CheckedFile | None = None
    size: int = 0

    def read(self) -> bytes:
        """The bytes (read from the held file when the image was not kept in memory)."""
        return self.data if self.file is None else self.file.read()

    def open(self) -> BinaryIO:
        """A binary file object positioned at the start (a new one each call: retries re-read it)."""
        return io.BytesIO(self.data) if self.file is None else self.file.reader()


def _settle_size(request: GenerateRequest | EditRequest) -> None:
    """`size` is the text OpenAI-style upstreams take as is; `dimensions` the same size as a value, for the
    providers that format it their own way (None: auto). A call's request arrives with both (its options
    parsed the size once); a request written by hand may give the text only, read here."""
    if request.dimensions is None:
        object.__setattr__(request, "dimensions", as_size(request.size))
    elif request.size != request.dimensions.text:
        raise ValueError(f"size {request.size!r} and dimensions {request.dimensions.text!r} disagree")


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    model: str
    prompt: str
    size: str  # the wire text: "1024x1024" or "auto"
    quality: str
    n: int = 1
    background: str | None = None
    output_format: str = "png"
    output_compression: int | None = None
    moderation: str | None = None
    partial_images: int = 0
    on_partial: PartialCallback | None = field(default=None, compare=False)
    extra: dict[str, Any] = field(default_factory=dict)
    dimensions: Size | None = None  # `size` as a value; None: auto

    def __post_init__(self) -> None:
        _settle_size(self)


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
    dimensions: Size | None = None  # `size` as a value; None: auto

    def __post_init__(self) -> None:
        _settle_size(self)


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
    profile: ClassVar[ProviderProfile]  # what this upstream changes about models, fields and billing

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build the provider from settings; a missing credential raises `ConfigurationError` naming
        the variables to set ("the X provider needs ...: set VAR ...")."""
        ...

    async def generate(self, request: GenerateRequest) -> ProviderResult: ...

    async def edit(self, request: EditRequest) -> ProviderResult: ...

    async def warm_up(self) -> None:
        """Build what the first call needs (an SDK's client, a connection pool) ahead of it: the server calls this
        in the background right after the MCP handshake. Never raises for a missing network."""
        ...

    async def aclose(self) -> None: ...
