"""What the rest of Easel needs from a ledger, whatever stores it (SQLite by default, PostgreSQL for a team)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from easel_mcp.budgets import Budgets, GroupBy
    from easel_mcp.ledger import Attempt
    from easel_mcp.settings import Settings


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
