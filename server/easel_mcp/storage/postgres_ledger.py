"""The money ledger on PostgreSQL (`EASEL_DATABASE_URL`): the same rows, rules and answers as the SQLite ledger,
shared by every replica of a team deployment.

Budgets hold across replicas: begin() checks the limits and inserts the reservation in one transaction that
first takes a transaction-scoped advisory lock, so two replicas never both see room for the last call. Rows are
append-only (a trigger refuses DELETE). Named migrations run at start-up under another advisory lock (replicas
starting together migrate once); a database migrated by a newer Easel is refused with a clear message.

A restarted server only fails the statements in flight: the pool checks a connection before lending it, so the
next call gets a fresh one without restarting Easel.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from easel_mcp.budgets import Budgets, GroupBy, SpentFn, budget_left, check_budgets, usd, utc
from easel_mcp.errors import DatabaseUnavailable
from easel_mcp.ledger_rows import Attempt, canonical_json, report_of, settled_amounts, usage_tokens
from easel_mcp.storage.postgres_replicas import ReplicaCoordination, replica_name
from easel_mcp.storage.postgres_schema import OPEN_SQL, migrate
from easel_mcp.times import ledger_time

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import DictRow
    from psycopg_pool import ConnectionPool

log = logging.getLogger("easel_mcp")

LOCK_BUDGETS = 0x45A5E1_02  # advisory lock key (a constant unique to Easel)
NOT_SENT = ": the call was not sent, so nothing was billed"
_GROUP_KEYS = {
    "model": "model",
    "day": "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    "tool": "tool",
    "provider": "provider",
    "user": "COALESCE(user_id, '-')",
}


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{parts.username + '@' if parts.username else ''}{host}:{parts.port or 5432}{parts.path}"


class PostgresLedger(ReplicaCoordination):
    """The append-only attempt log in PostgreSQL. Thread-safe (a connection pool); safe across replicas."""

    def __init__(self, url: str, *, max_connections: int = 10, wait_s: float = 30.0) -> None:
        self.url = url
        self.where = redact(url)
        self._max = max_connections
        self._wait_s = wait_s  # how long to wait for a connection (at start-up and per statement)
        self._pool: ConnectionPool[psycopg.Connection[DictRow]] | None = None

    @classmethod
    def open(cls, url: str, **kw: Any) -> PostgresLedger:
        ledger = cls(url, **kw)
        ledger._connection_pool()
        return ledger

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def exists(self) -> bool:
        return True

    def check(self) -> None:
        """Connect and migrate (start-up, before 'ready'), or say what to check."""
        from easel_mcp.errors import LedgerUnreadable

        try:
            self.spent(utc())
        except DatabaseUnavailable as e:
            raise LedgerUnreadable(
                f"Easel cannot use its ledger database: {e}. Check EASEL_DATABASE_URL, that the server runs and "
                "accepts connections from this machine, and that the user may create tables in that database."
            ) from e

    # ------------------------------------------------------------------ connections

    def _connection_pool(self) -> ConnectionPool[psycopg.Connection[DictRow]]:
        if self._pool is None:
            import psycopg
            from psycopg.rows import DictRow, dict_row
            from psycopg_pool import ConnectionPool

            pool = ConnectionPool(
                self.url,
                connection_class=psycopg.Connection[DictRow],
                min_size=1,
                max_size=self._max,
                kwargs={"autocommit": True, "row_factory": dict_row},
                check=ConnectionPool.check_connection,
                open=False,
                name="easel-ledger",
            )
            try:
                pool.open(wait=True, timeout=self._wait_s)
                with pool.connection() as conn:
                    migrate(conn)
            except psycopg.Error as e:
                pool.close()
                raise DatabaseUnavailable(f"cannot use the ledger database {self.where}: {e}".strip()) from e
            except BaseException:
                pool.close()
                raise
            self._pool = pool
        return self._pool

    def connection(self) -> AbstractContextManager[psycopg.Connection[DictRow]]:
        """A pooled connection to the same database (migrated, autocommit) for its other tables (the image index);
        DatabaseUnavailable when the server cannot be reached."""
        return self._conn()

    @contextmanager
    def _conn(self, consequence: str = "") -> Iterator[psycopg.Connection[DictRow]]:
        """A connection from the pool (a dead one, e.g. after a server restart, is replaced before it is lent).
        A server that goes away mid-statement fails that statement only: DatabaseUnavailable says so, with
        `consequence` (what it means for the call), and the next statement gets a fresh connection."""
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self._connection_pool().connection(timeout=self._wait_s) as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as e:
            why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DatabaseUnavailable(
                f"the ledger database {self.where} is unreachable ({why}){consequence}; "
                "try again once it is back (Easel reconnects by itself)"
            ) from e

    # ------------------------------------------------------------------ writes

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
        """Check the budgets against `reserve_usd` (the upper estimate) and reserve it, atomically across replicas."""
        if reserve_usd is not None and reserve_usd < 0:
            raise ValueError(f"reserve_usd must be at least 0, not {reserve_usd}.")
        at = utc(now)
        params_json = canonical_json(params)
        digest = hashlib.sha256(params_json.encode()).hexdigest()
        reserved = reserve_usd if reserve_usd is not None else (estimated_usd or 0.0)
        with self._conn(NOT_SENT) as conn, conn.transaction():
            if budgets.any_limit:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_BUDGETS,))
                check_budgets(
                    budgets,
                    reserve_usd,
                    model=model,
                    now=at,
                    spent=lambda start, end: _spent(conn, start, end),
                    user_spent=_user_spent(conn, user),
                )
            row = conn.execute(
                "INSERT INTO attempts (started_at, tool, provider, model, params, params_digest, status,"
                " estimated_usd, reserved_usd, counted_usd, job_id, pid, replica, user_id)"
                " VALUES (%s,%s,%s,%s,%s,%s,'reserved',%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                (
                    at,
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
                    replica_name(),
                    user,
                ),
            ).fetchone()
        assert row is not None
        log.debug("ledger: reserved %s for %s %s (row %d)", usd(reserved), tool, model, row["id"])
        return Attempt(id=int(row["id"]), started_at=at, estimated_usd=estimated_usd, reserved_usd=reserved)

    def mark_sent(self, attempt: Attempt) -> None:
        with self._conn(NOT_SENT) as conn:
            conn.execute("UPDATE attempts SET status = 'sent' WHERE id = %s AND status = 'reserved'", (attempt.id,))

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
        with self._conn() as conn:
            cursor = conn.execute(
                "UPDATE attempts SET status = %s, finished_at = %s, request_id = %s, usage = %s, input_tokens = %s,"
                " output_tokens = %s, cost_usd = %s, cost_estimated = %s, counted_usd = %s, billed = %s, outputs = %s,"
                " images = %s, error_code = %s, error_message = %s, elapsed_s = %s"
                " WHERE id = %s AND status IN ('reserved', 'sent', 'abandoned')",
                (
                    status,
                    utc(now),
                    request_id,
                    canonical_json(usage) if usage else None,
                    tokens_in,
                    tokens_out,
                    cost,
                    bool(estimated),
                    counted,
                    billed,
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
        with self._conn() as conn:
            cursor = conn.execute(
                f"UPDATE attempts SET status = 'abandoned', finished_at = %s WHERE {OPEN_SQL} AND started_at < %s",
                (at, at - timedelta(seconds=older_than_s)),
            )
        if cursor.rowcount:
            log.warning("ledger: %d attempt(s) never settled; marked abandoned (still counted)", cursor.rowcount)
        return cursor.rowcount

    # ------------------------------------------------------------------ reads

    def find_open(self) -> list[dict[str, Any]]:
        return self._select(f"WHERE {OPEN_SQL} ORDER BY id", [])

    def rows(self, *, since: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        where, args = ("WHERE started_at >= %s", [utc(since)]) if since is not None else ("", [])
        if limit is None:
            return self._select(f"{where} ORDER BY id", args)
        return self._select(f"{where} ORDER BY id DESC LIMIT %s", [*args, limit])[::-1]

    def job_rows(self, job_id: str) -> list[dict[str, Any]]:
        return self._select("WHERE job_id = %s ORDER BY id", [job_id])

    def _select(self, tail: str, args: list[Any]) -> list[dict[str, Any]]:
        with self._conn() as conn:
            return [_as_sqlite_row(row) for row in conn.execute(f"SELECT * FROM attempts {tail}", args)]

    def spent(self, since: datetime, until: datetime | None = None) -> float:
        with self._conn() as conn:
            return _spent(conn, since, until)

    def budget_left(
        self, budgets: Budgets, now: datetime | None = None, user: str | None = None
    ) -> dict[str, float | None]:
        with self._conn() as conn:
            spent = lambda start, end: _spent(conn, start, end)  # noqa: E731
            return budget_left(budgets, spent, utc(now), _user_spent(conn, user))

    def report(self, *, since: datetime | None, by: GroupBy | None, user: str | None = None) -> dict[str, Any]:
        args: list[Any]
        where, args = ("WHERE started_at >= %s", [utc(since)]) if since is not None else ("WHERE TRUE", [])
        if user is not None:
            where, args = f"{where} AND user_id = %s", [*args, user]
        with self._conn() as conn:
            total = conn.execute(
                "SELECT COUNT(*) AS calls, COALESCE(SUM(images), 0) AS images, COALESCE(SUM(cost_usd), 0.0) AS cost,"
                " COALESCE(SUM(estimated_usd), 0.0) AS estimated,"
                " COUNT(*) FILTER (WHERE status IN ('error', 'abandoned')) AS failed,"
                f" COUNT(*) FILTER (WHERE {OPEN_SQL}) AS open FROM attempts {where}",
                args,
            ).fetchone()
            assert total is not None
            groups = []
            if by is not None:
                order = "key" if by == "day" else "cost_usd DESC, key"
                groups = [
                    {k: (float(v) if k == "cost_usd" else int(v) if k != "key" else v) for k, v in row.items()}
                    for row in conn.execute(
                        f"SELECT {_GROUP_KEYS[by]} AS key, COUNT(*) AS calls, COALESCE(SUM(images), 0) AS images,"
                        " COALESCE(SUM(cost_usd), 0.0) AS cost_usd, COALESCE(SUM(input_tokens), 0) AS input_tokens,"
                        f" COALESCE(SUM(output_tokens), 0) AS output_tokens FROM attempts {where}"
                        f" GROUP BY key ORDER BY {order}",
                        args,
                    )
                ]
        return report_of(
            since, by, [total[k] for k in ("calls", "images", "cost", "estimated", "failed", "open")], groups
        )


def _spent(
    conn: psycopg.Connection[DictRow], since: datetime, until: datetime | None, user: str | None = None
) -> float:
    sql = "SELECT COALESCE(SUM(counted_usd), 0.0) AS spent FROM attempts WHERE started_at >= %s"
    args: list[Any] = [utc(since)]
    if until is not None:
        sql += " AND started_at < %s"
        args.append(utc(until))
    if user is not None:
        sql += " AND user_id = %s"
        args.append(user)
    row = conn.execute(sql, args).fetchone()
    return float(row["spent"]) if row else 0.0


def _user_spent(conn: psycopg.Connection[DictRow], user: str | None) -> SpentFn | None:
    return None if user is None else (lambda start, end: _spent(conn, start, end, user))


def _as_sqlite_row(row: dict[str, Any]) -> dict[str, Any]:
    """The same keys and value types as the SQLite ledger's rows (ISO text times, 0/1 flags, parsed JSON)."""
    item = dict(row)
    for key in ("started_at", "finished_at"):
        if isinstance(item.get(key), datetime):
            item[key] = ledger_time(item[key])
    item["cost_estimated"] = int(bool(item["cost_estimated"]))
    item["billed"] = None if item["billed"] is None else int(item["billed"])
    item["params_json"] = canonical_json(item["params"])
    item["usage_json"] = canonical_json(item["usage"]) if item["usage"] is not None else None
    item["outputs_json"] = json.dumps(item["outputs"])
    return item
