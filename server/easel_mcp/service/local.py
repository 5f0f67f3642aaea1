"""The embedded defaults of the service's ports: each user's area of the workspace folder (its images,
input loader and SQLite index), the providers built on first use, and jobs of earlier runs read back from
the ledger and the sidecars."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import anyio.to_thread

from easel_mcp.providers import create_provider

if TYPE_CHECKING:
    from easel_mcp.inputs import InputLoader
    from easel_mcp.providers.base import ImageProvider, ProviderResult
    from easel_mcp.schemas.jobs import JobView
    from easel_mcp.schemas.results import ImageOut, ImageResult
    from easel_mcp.service.call import Call
    from easel_mcp.settings import Settings
    from easel_mcp.storage.ports import ImageIndexPort, LedgerPort
    from easel_mcp.workspace import Workspace

log = logging.getLogger("easel_mcp")


class UserAreas:
    """Per user (the caller's OAuth subject; None without OAuth): a workspace, an input loader, an index.
    Every read, write, id and path of a call resolves inside the caller's own area."""

    def __init__(
        self, settings: Settings, root: Workspace, ledger: Callable[[], LedgerPort | None] = lambda: None
    ) -> None:
        from easel_mcp.inputs import InputLoader

        self.settings = settings
        self.root = root
        self._ledger = ledger  # a shared ledger's pool serves the PostgreSQL index
        self._lock = threading.Lock()
        self._workspaces: dict[str | None, Workspace] = {None: root}
        self._inputs: dict[str | None, InputLoader] = {None: InputLoader(settings, root)}
        self._indexes: dict[str | None, ImageIndexPort] = {}

    def workspace(self, user: str | None) -> Workspace:
        return self._area(user)[0]

    def inputs(self, user: str | None) -> InputLoader:
        return self._area(user)[1]

    def index(self, user: str | None) -> ImageIndexPort:
        """The user's image index: the workspace's SQLite cache, or the shared PostgreSQL table (built on first
        use; call from a worker thread)."""
        from easel_mcp.storage.ports import open_index

        workspace = self._area(user)[0]
        ledger = self._ledger()
        with self._lock:
            if user not in self._indexes:
                self._indexes[user] = open_index(self.settings, workspace, user, ledger)
            return self._indexes[user]

    def _area(self, user: str | None) -> tuple[Workspace, InputLoader]:
        from easel_mcp.inputs import InputLoader

        with self._lock:
            if user not in self._workspaces:
                workspace = self.root.for_user(user)  # type: ignore[arg-type]  # None is always there
                self._workspaces[user] = workspace
                self._inputs[user] = InputLoader(self.settings, workspace)
            return self._workspaces[user], self._inputs[user]

    async def aclose(self) -> None:
        for loader in list(self._inputs.values()):
            await loader.aclose()


class ProviderCache:
    """The providers by name, each built on first use and kept for the server's lifetime."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._providers: dict[str, ImageProvider] = {}

    def provider(self, name: str) -> ImageProvider:
        if name not in self._providers:
            self._providers[name] = create_provider(name, self.settings)
        return self._providers[name]

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()


class WorkspaceOutputs:
    """The image store in the caller's workspace folder: sandboxed, atomic writes, a sidecar per image."""

    def __init__(self, workspace: Callable[[str | None], Workspace]) -> None:
        self._workspace = workspace

    def location(self, user: str | None) -> str:
        return str(self._workspace(user).root)

    async def write_images(
        self,
        call: Call,
        answer: ProviderResult,
        images: list[bytes],
        elapsed_s: float,
        provider_name: str,
        saved: list[ImageOut],
    ) -> ImageResult:
        from easel_mcp.outputs import write_outputs

        workspace = self._workspace(call.user)
        estimate_usd = call.estimate.total_usd
        return await anyio.to_thread.run_sync(
            write_outputs, workspace, call, answer, images, elapsed_s, estimate_usd, provider_name, saved
        )

    async def write_partial(self, call: Call, index: int, data: bytes) -> str:
        """Save one streamed partial image (in the day's partials/ folder); its workspace-relative path."""

        def write() -> str:
            from easel_mcp.imaging.io import decode_check

            info = decode_check(data, what="a partial image")
            written = self._workspace(call.user).write_image(
                data, ext=info.format, label=f"{call.label}-partial{index + 1}", subfolder="partials"
            )
            return written.relative_path

        return await anyio.to_thread.run_sync(write)


class WorkspaceIndex:
    """The image index of the caller's workspace (SQLite): new images are noted as they are written."""

    def __init__(
        self, index: Callable[[str | None], ImageIndexPort], workspace: Callable[[str | None], Workspace]
    ) -> None:
        self._index = index
        self._workspace = workspace

    async def note_written(self, user: str | None, images: Sequence[ImageOut]) -> None:
        def note() -> None:
            root = self._workspace(user).root  # by relative key: a result's `path` may be a store's URL
            try:
                self._index(user).note_written([root / i.relative_path for i in images])
            except Exception:  # the index is a cache: a failure here must not fail a paid call
                log.exception("could not add the new images to the index")

        await anyio.to_thread.run_sync(note)


class LedgerArchive:
    """Jobs of earlier runs (or of other replicas on a shared ledger): their ledger rows and sidecars."""

    def __init__(self, ledger: LedgerPort, workspace: Callable[[str | None], Workspace]) -> None:
        self._ledger = ledger
        self._workspace = workspace

    def find(self, job_id: str, user: str | None) -> JobView | None:
        from easel_mcp.outputs import rebuild_job

        rows = self._ledger.job_rows(job_id)
        if rows and rows[-1].get("user_id") != user:
            return None  # another user's job: not found, never its metadata
        return rebuild_job(self._workspace(user), rows, job_id)
