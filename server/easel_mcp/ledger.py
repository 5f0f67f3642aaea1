"""The money ledger: one SQLite row per upstream attempt, at <workspace>/.easel/ledger.sqlite3.

A row's life: begin() checks the budgets and inserts it as 'reserved' (one BEGIN IMMEDIATE transaction, so
threads and processes sharing the file never overrun a limit); mark_sent() → 'sent'; settle() → 'ok', 'error'
or 'cancelled'. Rows are never deleted (a trigger refuses it). A row left open by a dead process becomes
'abandoned' (abandon_stale) and keeps counting its reservation.

`counted_usd` is what a row counts against the budgets: its reservation while open or abandoned, or when the
cost stays unknown; its cost once known; 0 when the upstream did not bill. `cost_usd` is what it cost (the
estimate when `cost_estimated` = 1), which is what report() sums.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from easel_mcp.budgets import (
    Budgets,
    GroupBy,
    SpentFn,
    budget_left,
    check_budgets,
    format_report,
    parse_since,
    usd,
    utc,
)
from easel_mcp.errors import BudgetExceeded, EaselError, LedgerUnreadable
from easel_mcp.ledger_rows import Attempt, canonical_json, report_of, settled_amounts, usage_tokens
from easel_mcp.ledger_schema import MIGRATIONS, OPEN_SQL, OPEN_STATUSES, migrate
from easel_mcp.sqlite import connect
from easel_mcp.times import ledger_time

__all__ = [
    "MIGRATIONS",
    "OPEN_STATUSES",
    "Attempt",
    "BudgetExceeded",
    "Budgets",
    "Ledger",
    "canonical_json",
    "format_report",
    "migrate",
    "parse_since",
    "settled_amounts",
    "usage_tokens",
]

log = logging.getLogger("easel_mcp")


def is_unreadable(exc: sqlite3.DatabaseError) -> bool:
    """A damaged or unopenable database file (not a busy lock or a full disk, which pass)."""
    return not isinstance(exc, sqlite3.OperationalError) or "unable to open" in str(exc)


def unreadable(path: Path, exc: BaseException) -> LedgerUnreadable:
    """The one paragraph for a ledger that cannot be read: which file, and what to do."""
    return LedgerUnreadable(
        f"Easel cannot read its ledger {path} ({exc}). The ledger is Easel's record of what every image call "
        "cost, and Easel does not run without it. If the file is damaged, move it aside with its -wal and -shm "
        f"files, if any (for example: mv '{path}' '{path}.broken'), and start Easel again: it creates a new, "
        "empty ledger, and the budgets then count only the calls made from then on (keep the old file for your "
        "records). If it is only unreadable (permissions, a missing folder), fix that and start again."
    )


def ledger_failure(path: Path, exc: sqlite3.Error) -> EaselError:
    """A ledger write that failed before a request was sent, as an error the agent can act on."""
    if isinstance(exc, sqlite3.DatabaseError) and is_unreadable(exc):
        return unreadable(path, exc)
    hint = "free some disk space and call again" if "full" in str(exc) else "call again in a moment"
    return EaselError(f"the ledger {path} cannot record this call ({exc}); nothing was sent: {hint}")


class Ledger:
    """The append-only attempt log. Thread-safe (one connection per thread) and safe across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        # This process's writers queue here instead of in SQLite's busy handler, which sleeps (up to 100 ms a
        # turn) and made 50 simultaneous reservations take seconds; other processes still wait on SQLite's lock.
        self._writes = threading.Lock()
        self._connections: list[tuple[int, sqlite3.Connection]] = []
        self._writer_conn: tuple[int, sqlite3.Connection] | None = None
        self._ready = False

    @classmethod
    def open(cls, path: Path) -> Ledger:
        """Create the folder and the database if needed and bring the schema up to date."""
        ledger = cls(path)
        ledger._conn()
        return ledger

    def exists(self) -> bool:
        """Whether the database file is there (a workspace that never made a call has none)."""
        return self.path.exists()

    def close(self) -> None:
        """Close every connection this process opened (further calls open new ones)."""
        with self._lock:
            mine = [conn for pid, conn in self._connections if pid == os.getpid()]
            self._connections.clear()
            self._local = threading.local()
            self._writer_conn = None
        for conn in mine:
            conn.close()

    def check(self) -> None:
        """Open the ledger and read it through once (start-up calls this before it says it is ready):
        LedgerUnreadable, naming the file and what to do, when it cannot."""
        try:
            with self._readable():
                self._conn().execute("SELECT COUNT(*), COALESCE(SUM(counted_usd), 0) FROM attempts").fetchone()
        except sqlite3.OperationalError as e:  # busy or a full disk: not a reason to refuse to start
            log.warning("the ledger %s could not be checked at start-up (%s); going on", self.path, e)

    @contextmanager
    def _readable(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as e:
            if is_unreadable(e):
                raise unreadable(self.path, e) from e
            raise

    @contextmanager
    def _recording(self) -> Iterator[None]:
        """A write before the request is sent: a failure is an error the agent can act on (nothing was sent)."""
        try:
            yield
        except sqlite3.Error as e:
            raise ledger_failure(self.path, e) from e

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection, for reads (opened on the thread's first read)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        conn = self._open()
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _writer(self) -> sqlite3.Connection:
        """The connection every write of this process goes through, under `_writes` (held by the caller): the
        writers queue on that lock anyway, so one connection serves them all, and a burst of calls on fresh
        worker threads opens no connections."""
        if self._writer_conn is None or self._writer_conn[0] != os.getpid():
            self._writer_conn = (os.getpid(), self._open())
        return self._writer_conn[1]

    def _open(self) -> sqlite3.Connection:
        with self._readable():
            conn = connect(self.path)
        with self._lock, self._readable():
            try:
                if not self._ready:
                    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                    if mode != "wal":
                        log.warning("the ledger %s runs in journal mode %s, not WAL", self.path, mode)
                    migrate(conn)
                    self._ready = True
            except BaseException:
                conn.close()
                raise
            self._connections.append((os.getpid(), conn))
        return conn

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        with self._writes:
            conn = self._writer()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _spent(
        self, conn: sqlite3.Connection, since: datetime, until: datetime | None, user: str | None = None
    ) -> float:
        sql = "SELECT COALESCE(SUM(counted_usd), 0.0) FROM attempts WHERE started_at >= ?"
        args = [ledger_time(since)]
        if until is not None:
            sql += " AND started_at < ?"
            args.append(ledger_time(until))
        if user is not None:
            sql += " AND user_id = ?"
            args.append(user)
        return float(conn.execute(sql, args).fetchone()[0])

    def _user_spent(self, conn: sqlite3.Connection, user: str | None) -> SpentFn | None:
        return None if user is None else (lambda start, end: self._spent(conn, start, end, user))

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
    ) -> Attempt:
        """Check the budgets (`user`'s own too) against `reserve_usd` (the upper estimate) and reserve it,
        atomically."""
        if reserve_usd is not None and reserve_usd < 0:
            raise ValueError(f"reserve_usd must be at least 0, not {reserve_usd}.")
        at = utc(now)
        params_json = canonical_json(params)
        digest = hashlib.sha256(params_json.encode()).hexdigest()
        reserved = reserve_usd if reserve_usd is not None else (estimated_usd or 0.0)
        with self._recording(), self._immediate() as conn:
            check_budgets(
                budgets,
                reserve_usd,
                model=model,
                now=at,
                spent=lambda start, end: self._spent(conn, start, end),
                user_spent=self._user_spent(conn, user),
            )
            cursor = conn.execute(
                "INSERT INTO attempts (started_at, tool, provider, model, params_json, params_digest, status,"
                " estimated_usd, reserved_usd, counted_usd, job_id, pid, user_id)"
                " VALUES (?,?,?,?,?,?,'reserved',?,?,?,?,?,?)",
                (
                    ledger_time(at),
                    tool,
                    provider,
                    model,
                    params_json,
                    digest,
                    estimated_usd,
                    reserved,
                    reserved,
                    job_id,
                    os.getpid(),
                    user,
                ),
            )
        row_id = cursor.lastrowid
        assert row_id is not None
        log.debug("ledger: reserved %s for %s %s (row %d)", usd(reserved), tool, model, row_id)
        return Attempt(id=row_id, started_at=at, estimated_usd=estimated_usd, reserved_usd=reserved)

    def mark_sent(self, attempt: Attempt) -> None:
        """The request has left the machine: it may be billed from now on."""
        with self._recording(), self._writes:
            self._writer().execute(
                "UPDATE attempts SET status = 'sent' WHERE id = ? AND status = 'reserved'", (attempt.id,)
            )

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
    ) -> None:
        """Record the outcome. Unknown cost or unknown billing keeps the reservation counted (conservative)."""
        cost, estimated, counted, billed = settled_amounts(attempt, status, cost_usd, billed)
        usage = usage or None
        tokens_in, tokens_out = usage_tokens(usage)
        with self._writes:
            cursor = self._writer().execute(
                "UPDATE attempts SET status = ?, finished_at = ?, request_id = ?, usage_json = ?, input_tokens = ?,"
                " output_tokens = ?, cost_usd = ?, cost_estimated = ?, counted_usd = ?, billed = ?, outputs_json = ?,"
                " images = ?, error_code = ?, error_message = ?, elapsed_s = ?"
                " WHERE id = ? AND status IN ('reserved', 'sent', 'abandoned')",
                (
                    status,
                    ledger_time(utc(now)),
                    request_id,
                    canonical_json(usage) if usage else None,
                    tokens_in,
                    tokens_out,
                    cost,
                    estimated,
                    counted,
                    None if billed is None else int(billed),
                    json.dumps(list(outputs)),
                    len(outputs),
                    error_code,
                    error_message,
                    elapsed_s,
                    attempt.id,
                ),
            )
        if cursor.rowcount == 0:
            log.warning("ledger: row %d is already settled or missing; outcome %s not recorded", attempt.id, status)

    def abandon_stale(self, older_than_s: float, now: datetime | None = None) -> int:
        """Mark rows still open after `older_than_s` as 'abandoned' (they keep counting); return how many."""
        at = utc(now)
        cursor = self._conn().execute(
            f"UPDATE attempts SET status = 'abandoned', finished_at = ? WHERE {OPEN_SQL} AND started_at < ?",
            (ledger_time(at), ledger_time(at - timedelta(seconds=older_than_s))),
        )
        if cursor.rowcount:
            log.warning("ledger: %d attempt(s) never settled; marked abandoned (still counted)", cursor.rowcount)
        return cursor.rowcount

    def find_open(self) -> list[dict[str, Any]]:
        """Rows still 'reserved' or 'sent', oldest first."""
        return self._select(f"WHERE {OPEN_SQL} ORDER BY id", [])

    def rows(self, *, since: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Rows started at or after `since`, oldest first; with `limit`, only the latest `limit` of them."""
        where, args = ("WHERE started_at >= ?", [ledger_time(since)]) if since is not None else ("", [])
        if limit is None:
            return self._select(f"{where} ORDER BY id", args)
        return self._select(f"{where} ORDER BY id DESC LIMIT ?", [*args, limit])[::-1]

    def job_rows(self, job_id: str) -> list[dict[str, Any]]:
        """Every attempt of one job, oldest first (indexed)."""
        return self._select("WHERE job_id = ? ORDER BY id", [job_id])

    def _select(self, tail: str, args: list[Any]) -> list[dict[str, Any]]:
        out = []
        for row in self._conn().execute(f"SELECT * FROM attempts {tail}", args):
            item = dict(row)
            item["params"] = json.loads(item["params_json"])
            item["usage"] = json.loads(item["usage_json"]) if item["usage_json"] else None
            item["outputs"] = json.loads(item["outputs_json"])
            out.append(item)
        return out

    def spent(self, since: datetime, until: datetime | None = None) -> float:
        """What counts against the budgets from `since` (to `until`): settled costs plus open reservations."""
        return self._spent(self._conn(), since, until)

    def budget_left(
        self, budgets: Budgets, now: datetime | None = None, user: str | None = None
    ) -> dict[str, float | None]:
        """{"per_call", "today", "this_month"} in USD (for `user`, the tighter of theirs and everyone's); None
        where no limit is set."""
        conn = self._conn()
        spent = lambda start, end: self._spent(conn, start, end)  # noqa: E731
        return budget_left(budgets, spent, utc(now), self._user_spent(conn, user))

    def report(self, *, since: datetime | None, by: GroupBy | None, user: str | None = None) -> dict[str, Any]:
        """Totals since `since` (all time when None), plus per-group sums when `by` is given; aggregated in SQL.
        With `user`, only that user's rows (the per-user gallery)."""
        with self._readable():
            return self._report(since, by, user)

    def _report(self, since: datetime | None, by: GroupBy | None, user: str | None = None) -> dict[str, Any]:
        where, args = ("WHERE started_at >= ?", [ledger_time(since)]) if since is not None else ("WHERE 1 = 1", [])
        if user is not None:
            where, args = f"{where} AND user_id = ?", [*args, user]
        conn = self._conn()
        total = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(images), 0), COALESCE(SUM(cost_usd), 0.0),"
            " COALESCE(SUM(estimated_usd), 0.0), COALESCE(SUM(status IN ('error', 'abandoned')), 0),"
            f" COALESCE(SUM({OPEN_SQL}), 0) FROM attempts {where}",
            args,
        ).fetchone()
        groups = []
        if by is not None:
            key = _GROUP_KEYS[by]
            order = "key" if by == "day" else "cost_usd DESC, key"
            for row in conn.execute(
                f"SELECT {key} AS key, COUNT(*) AS calls, COALESCE(SUM(images), 0) AS images,"
                " COALESCE(SUM(cost_usd), 0.0) AS cost_usd, COALESCE(SUM(input_tokens), 0) AS input_tokens,"
                f" COALESCE(SUM(output_tokens), 0) AS output_tokens FROM attempts {where}"
                f" GROUP BY key ORDER BY {order}",
                args,
            ):
                groups.append(dict(row))
        return report_of(since, by, tuple(total), groups)


_GROUP_KEYS = {
    "model": "model",
    "day": "substr(started_at, 1, 10)",
    "tool": "tool",
    "provider": "provider",
    "user": "COALESCE(user_id, '-')",
}
