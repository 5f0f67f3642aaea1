"""What the engine talks to, as small protocols; `service.local` has the embedded defaults (the workspace
folder and its index, the configured ledger, jobs in memory), tests swap in fakes, and a team deployment
plugs shared stores in here. The ledger's port is `storage.ports.LedgerPort`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from easel_mcp.providers.base import ImageProvider, ProviderResult
    from easel_mcp.schemas.jobs import JobView
    from easel_mcp.schemas.results import ImageOut, ImageResult
    from easel_mcp.service.call import Call
    from easel_mcp.service.jobs import Job


class Providers(Protocol):
    """The upstreams by name (built on first use, kept for the server's lifetime)."""

    def provider(self, name: str) -> ImageProvider: ...


class OutputStore(Protocol):
    """Where a call's images and their sidecars go (the caller's workspace folder by default).

    Each written image comes back as an `ImageOut`: its id, its relative key and its `path` (the store's
    location of it, what results show)."""

    def location(self, user: str | None) -> str:
        """Where `user`'s images are kept, for messages ("the disk holding the workspace <location>")."""
        ...

    async def write_images(
        self,
        call: Call,
        answer: ProviderResult,
        images: list[bytes],
        elapsed_s: float,
        provider_name: str,
        saved: list[ImageOut],
    ) -> ImageResult:
        """Write every image (decoded already) and its sidecar; each is appended to `saved` once stored."""
        ...

    async def write_partial(self, call: Call, index: int, data: bytes) -> str:
        """Keep one streamed partial image; its relative key (ImagingError or OSError when it cannot)."""
        ...


class ImageIndex(Protocol):
    """The searchable index of the images (a cache: noting may fail without failing the call)."""

    async def note_written(self, user: str | None, images: Sequence[ImageOut]) -> None: ...


class JobArchive(Protocol):
    """Jobs from earlier runs of the server, or run by another replica: read from the ledger and sidecars."""

    def find(self, job_id: str, user: str | None) -> JobView | None:
        """The job, if `user` started it (another user's job is not found); call from a worker thread."""
        ...


class JobStore(Protocol):
    """The jobs this process runs or ran (in memory, bounded), and those the archive knows."""

    def add(self, job: Job) -> None: ...

    def get(self, job_id: str) -> Job | None: ...

    def values(self) -> list[Job]: ...

    async def find(self, job_id: str, user: str | None) -> JobView | None: ...


class ProgressSink(Protocol):
    """Anything with MCP's progress call: a request's Context, or a Job whose followers relay it."""

    async def report_progress(self, progress: float, total: float | None, message: str | None) -> None: ...
