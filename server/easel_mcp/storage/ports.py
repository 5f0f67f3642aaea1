"""What the rest of Easel needs from a ledger, an image index and an image store, whatever keeps them (SQLite and
the workspace folder by default, PostgreSQL and S3 for a team)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from easel_mcp.budgets import Budgets, GroupBy
    from easel_mcp.index_common import IndexRow
    from easel_mcp.index_rows import ImageEntry
    from easel_mcp.ledger import Attempt
    from easel_mcp.settings import Settings
    from easel_mcp.workspace import Workspace


class LedgerPort(Protocol):
    """One row per upstream attempt: reserved against the budgets, marked sent, settled; never deleted."""

    def exists(self) -> bool: ...

    def check(self) -> None:
        """Open and read it once (start-up, before 'ready'): LedgerUnreadable, saying what to do, when it cannot."""
        ...

    def close(self) -> None: ...

    def begin(
        self,
        *,
        tool: str,
        provider: str,
        model: str,
        params: dict[str, Any],
        estimated_usd: float | None,
        reserve_usd: float | None,
        budgets: Budgets,
        job_id: str | None = None,
        user: str | None = None,
        now: datetime | None = None,
    ) -> Attempt: ...

    def mark_sent(self, attempt: Attempt) -> None: ...

    def settle(
        self,
        attempt: Attempt,
        *,
        status: Literal["ok", "error", "cancelled"],
        cost_usd: float | None,
        usage: dict[str, Any] | None,
        request_id: str | None,
        outputs: Sequence[str] = (),
        error_code: str | None = None,
        error_message: str | None = None,
        elapsed_s: float | None = None,
        billed: bool | None = None,
        now: datetime | None = None,
    ) -> None: ...

    def abandon_stale(self, older_than_s: float, now: datetime | None = None) -> int: ...

    def find_open(self) -> list[dict[str, Any]]: ...

    def rows(self, *, since: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]: ...

    def job_rows(self, job_id: str) -> list[dict[str, Any]]: ...

    def spent(self, since: datetime, until: datetime | None = None) -> float: ...

    def budget_left(
        self, budgets: Budgets, now: datetime | None = None, user: str | None = None
    ) -> dict[str, float | None]: ...

    def report(self, *, since: datetime | None, by: GroupBy | None, user: str | None = None) -> dict[str, Any]: ...


def open_ledger(settings: Settings, state_dir: Path) -> LedgerPort:
    """The configured ledger, not yet connected: PostgreSQL with EASEL_DATABASE_URL, else the workspace's SQLite."""
    if settings.database_url is not None:
        from easel_mcp.storage.postgres_ledger import PostgresLedger

        return PostgresLedger(settings.database_url.get_secret_value(), max_connections=settings.max_concurrency + 4)
    from easel_mcp.ledger import Ledger

    return Ledger(state_dir / "ledger.sqlite3")


class ImageIndexPort(Protocol):
    """One user's images, newest first (created_at, then id, then relative path, all descending), searchable, with
    their lineage. Synchronous: call from a worker thread. SQLite per workspace (`index.ImageIndex`) or one
    PostgreSQL table shared by the replicas (`storage.postgres_index.PostgresImageIndex`)."""

    def refresh(self, *, full: bool = False) -> int:
        """Bring the index up to date with the workspace's day folders (as far as this backend scans them);
        return how many entries changed."""
        ...

    def note_written(self, image_paths: Sequence[Path]) -> None:
        """Index images just written in the workspace (their sidecars beside them) without waiting for a scan."""
        ...

    def note_rows(self, rows: Sequence[IndexRow], gone: Sequence[str] = ()) -> None:
        """Add or replace rows (as `index_rows.read_row` builds them); drop the entries at the `gone` paths."""
        ...

    def query(
        self,
        *,
        text: str | None = None,
        since: datetime | None = None,
        model: str | None = None,
        tool: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[ImageEntry], str | None]:
        """A page and the cursor of the next one (None at the end); ValueError for a cursor it did not return
        and for filters that are not text."""
        ...

    def get(self, image_id: str) -> ImageEntry | None: ...

    def children(self, image_id: str) -> list[ImageEntry]: ...

    def lineage(self, image_id: str, depth: int = 10) -> dict[str, Any]: ...

    def count(self) -> int: ...

    def facets(self) -> dict[str, list[str]]: ...

    def close(self) -> None: ...


def open_index(
    settings: Settings, workspace: Workspace, user: str | None, ledger: LedgerPort | None = None
) -> ImageIndexPort:
    """The configured image index of one user: with EASEL_DATABASE_URL the PostgreSQL table (through the pool of
    `ledger` when it is the PostgreSQL ledger, else a pool of its own), else the workspace's SQLite cache."""
    if settings.database_url is not None:
        from easel_mcp.storage.postgres_index import PostgresImageIndex
        from easel_mcp.storage.postgres_ledger import PostgresLedger

        if isinstance(ledger, PostgresLedger):
            shared = PostgresImageIndex(ledger.connection, workspace, user)
        else:
            own = PostgresLedger(settings.database_url.get_secret_value(), max_connections=2)
            shared = PostgresImageIndex(own.connection, workspace, user, on_close=own.close)
        workspace.index = shared  # the workspace's id resolver asks it first
        return shared
    from easel_mcp.index import ImageIndex

    return ImageIndex(workspace)


@dataclass(frozen=True)
class StoredObject:
    """One stored image (or sidecar, mask, partial): `key` is workspace-relative (`2026-11-25/red-fox-3f9a.png`,
    or `users/<user>/...`). `spooled` means it waits in the local spool until the store is back."""

    key: str
    size: int
    etag: str | None
    last_modified: datetime
    spooled: bool = False


class ImageStore(Protocol):
    """Where Easel keeps each image's bytes when they do not live in the workspace folder (S3 for a team).

    Keys are POSIX paths relative to the store's root; `put` never overwrites (`ObjectExists`), `get` refuses an
    object larger than `max_bytes` before downloading it, failures of the store itself are `StoreUnavailable`.
    """

    def url(self, key: str) -> str: ...

    def key_for(self, url: str) -> str: ...

    async def put(self, key: str, data: bytes, content_type: str) -> StoredObject: ...

    async def get(self, key: str, max_bytes: int) -> bytes: ...

    async def head(self, key: str) -> StoredObject | None: ...

    def list(self, prefix: str = "", *, start_after: str | None = None) -> AsyncIterator[StoredObject]: ...
