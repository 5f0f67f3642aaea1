"""Replicas sharing a PostgreSQL ledger: each says it is alive, the survivors settle the open calls of one that
stopped, and a cancel_job on one replica reaches the replica that runs the call."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from easel_mcp.errors import ConfigurationError, DatabaseUnavailable

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import DictRow

log = logging.getLogger("easel_mcp")

CANCEL_POLL_S = 1.0  # how often a replica looks for cancel requests of the jobs it runs
REPLICA_LOST_SENT = (
    "the Easel replica running this call stopped after sending it: it may have been billed (the reservation stays "
    "counted); its images, if any, were not saved. Run the call again if you still need it."
)
REPLICA_LOST_RESERVED = "the Easel replica running this call stopped before sending it: nothing was billed."


class ReplicaCoordination:
    """The replica part of the PostgreSQL ledger (needs its `_conn()`)."""

    def _conn(self) -> AbstractContextManager[psycopg.Connection[DictRow]]:
        raise NotImplementedError

    def heartbeat(self) -> None:
        """This replica is alive (the sweepers of the others leave its open rows alone)."""
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO replicas (name, seen_at) VALUES (%s, now())"
                " ON CONFLICT (name) DO UPDATE SET seen_at = excluded.seen_at",
                (replica_name(),),
            )

    def sweep(self, dead_after_s: float) -> int:
        """Settle the open rows of replicas not seen for `dead_after_s`: a call that was only reserved was never
        sent (not billed); one that was sent may have been billed, so it stays counted ('abandoned')."""
        lost = (
            "status IN ('reserved', 'sent') AND replica IS NOT NULL AND replica <> %(me)s"
            " AND started_at < now() - %(dead)s AND NOT EXISTS (SELECT 1 FROM replicas r"
            " WHERE r.name = attempts.replica AND r.seen_at > now() - %(dead)s)"
        )
        args = {
            "me": replica_name(),
            "dead": timedelta(seconds=dead_after_s),
            "sent_message": REPLICA_LOST_SENT,
            "reserved_message": REPLICA_LOST_RESERVED,
        }
        with self._conn() as conn, conn.transaction():
            sent = conn.execute(
                "UPDATE attempts SET status = 'abandoned', finished_at = now(), error_code = 'replica_lost',"
                f" error_message = %(sent_message)s WHERE {lost} AND status = 'sent' RETURNING id",
                args,
            ).rowcount
            reserved = conn.execute(
                "UPDATE attempts SET status = 'error', finished_at = now(), error_code = 'replica_lost',"
                " error_message = %(reserved_message)s, billed = FALSE, counted_usd = 0, cost_usd = 0"
                f" WHERE {lost} AND status = 'reserved' RETURNING id",
                args,
            ).rowcount
        if sent or reserved:
            log.warning(
                "ledger: settled %d call(s) of replicas that stopped (%d possibly billed)", sent + reserved, sent
            )
        return sent + reserved

    def request_cancel(self, job_id: str) -> None:
        """Ask whichever replica runs `job_id` to cancel it (it looks at least once a second)."""
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO cancel_requests (job_id, requested_at) VALUES (%s, now()) ON CONFLICT DO NOTHING",
                (job_id,),
            )

    def save_task(self, task_id: str, job_id: str, tool: str, preview: str, user: str | None) -> None:
        """An MCP task (its id is a bearer token) and the job it follows, for tasks/get on any replica."""
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO tasks (task_id, job_id, tool, preview, user_id, created_at)"
                " VALUES (%s, %s, %s, %s, %s, now()) ON CONFLICT DO NOTHING",
                (task_id, job_id, tool, preview, user),
            )

    def find_task(self, task_id: str, ttl_s: float) -> dict[str, Any] | None:
        """A task created less than `ttl_s` ago on any replica: job_id, tool, preview, user_id, created_at."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT job_id, tool, preview, user_id, created_at FROM tasks"
                " WHERE task_id = %s AND created_at > now() - %s",
                (task_id, timedelta(seconds=ttl_s)),
            ).fetchone()
        return dict(row) if row is not None else None

    def cancel_requested(self, job_ids: Sequence[str]) -> list[str]:
        """Which of these jobs (this replica's running ones) another replica was asked to cancel."""
        with self._conn() as conn:
            rows = conn.execute("SELECT job_id FROM cancel_requests WHERE job_id = ANY(%s)", (list(job_ids),))
            return [str(row["job_id"]) for row in rows]


async def keep_alive(
    ledger: object,
    every_s: float,
    running: Callable[[], list[str]] = list,
    cancel: Callable[[str], None] = lambda job_id: None,
    flush: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """A replica's life on a shared ledger: say it is alive every `every_s`, settle the open calls of replicas silent
    for three times that (a replica killed mid-call is settled within a minute at the default 10 s), cancel
    the `running` jobs that a cancel_job on another replica asked for (checked every second while any runs), and
    `flush` the outcomes the ledger could not take while the database was away (with each heartbeat that
    reaches it, so they are written once it is back, without waiting for the next call)."""
    import anyio
    import anyio.to_thread

    if not isinstance(ledger, ReplicaCoordination):
        return
    last_beat = float("-inf")
    while True:
        try:
            if time.monotonic() - last_beat >= every_s:
                last_beat = time.monotonic()
                await anyio.to_thread.run_sync(ledger.heartbeat)
                await anyio.to_thread.run_sync(ledger.sweep, 3 * every_s)
                if flush is not None:
                    await flush()
            if ids := running():
                for job_id in await anyio.to_thread.run_sync(ledger.cancel_requested, ids):
                    log.info("job %s: cancelled from another replica", job_id)
                    cancel(job_id)
        except (DatabaseUnavailable, ConfigurationError) as e:
            log.warning("replica heartbeat: %s", e)
        await anyio.sleep(min(every_s, CANCEL_POLL_S))


def replica_name() -> str:
    """Which process wrote a row: host and pid (a sweeper on another replica settles a dead one's rows)."""
    return f"{socket.gethostname()}:{os.getpid()}"
