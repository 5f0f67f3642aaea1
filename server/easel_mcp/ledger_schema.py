"""The SQLite ledger's named migrations (a released migration is never edited) and the migrator, which refuses a
file that a newer Easel migrated."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence

from easel_mcp.budgets import utc
from easel_mcp.errors import ConfigurationError
from easel_mcp.times import ledger_time

log = logging.getLogger("easel_mcp")

OPEN_STATUSES = ("reserved", "sent")
OPEN_SQL = "status IN ('reserved', 'sent')"


def _m001_initial(conn: sqlite3.Connection) -> None:
    conn.execute("""
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            tool TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            params_json TEXT NOT NULL,
            params_digest TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('reserved', 'sent', 'ok', 'error', 'cancelled', 'abandoned')),
            request_id TEXT,
            usage_json TEXT,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cost_usd REAL,
            cost_estimated INTEGER NOT NULL DEFAULT 0,
            estimated_usd REAL,
            reserved_usd REAL NOT NULL DEFAULT 0,
            counted_usd REAL NOT NULL DEFAULT 0,
            billed INTEGER,
            error_code TEXT,
            error_message TEXT,
            elapsed_s REAL,
            pid INTEGER
        )""")
    conn.execute("CREATE INDEX attempts_started_at ON attempts (started_at, counted_usd)")
    conn.execute("CREATE INDEX attempts_model ON attempts (model)")
    conn.execute("CREATE INDEX attempts_tool ON attempts (tool)")
    conn.execute(f"CREATE INDEX attempts_open ON attempts (status) WHERE {OPEN_SQL}")
    conn.execute("""
        CREATE TRIGGER attempts_append_only BEFORE DELETE ON attempts
        BEGIN SELECT RAISE(ABORT, 'the Easel ledger is append-only'); END""")


def _m002_jobs_and_outputs(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE attempts ADD COLUMN job_id TEXT")
    conn.execute("ALTER TABLE attempts ADD COLUMN outputs_json TEXT NOT NULL DEFAULT '[]'")
    conn.execute("ALTER TABLE attempts ADD COLUMN images INTEGER NOT NULL DEFAULT 0")
    conn.execute("CREATE INDEX attempts_job_id ON attempts (job_id)")


def _m003_user_id(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE attempts ADD COLUMN user_id TEXT")
    conn.execute("CREATE INDEX attempts_user ON attempts (user_id, started_at)")


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("001_initial", _m001_initial),
    ("002_jobs_and_outputs", _m002_jobs_and_outputs),
    ("003_user_id", _m003_user_id),
]


def migrate(
    conn: sqlite3.Connection, migrations: Sequence[tuple[str, Callable[[sqlite3.Connection], None]]] = MIGRATIONS
) -> list[str]:
    """Apply the migrations not yet recorded in `_migrations`, in one transaction; return their names."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        if unknown := sorted(done - {name for name, _ in MIGRATIONS}):
            raise ConfigurationError(
                f"the ledger was migrated by a newer Easel (migrations {', '.join(unknown)}): upgrade Easel, or "
                "set EASEL_WORKSPACE to another folder"
            )
        applied = []
        for name, apply in migrations:
            if name not in done:
                apply(conn)
                conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, ledger_time(utc())))
                applied.append(name)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if applied:
        log.info("ledger migrations applied: %s", ", ".join(applied))
    return applied
