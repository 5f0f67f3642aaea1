"""The PostgreSQL ledger's named migrations (append-only: a released migration is never edited) and the migrator:
once, under an advisory lock (replicas starting together migrate once), refusing a database a newer Easel
migrated."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from easel_mcp.errors import ConfigurationError

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import DictRow

log = logging.getLogger("easel_mcp")
LOCK_MIGRATE = 0x45A5E1_01  # advisory lock key (a constant unique to Easel)

OPEN_SQL = "status IN ('reserved', 'sent')"

_M001 = f"""
CREATE TABLE attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    tool TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    params JSONB NOT NULL,
    params_digest TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('reserved', 'sent', 'ok', 'error', 'cancelled', 'abandoned')),
    request_id TEXT,
    usage JSONB,
    input_tokens BIGINT,
    output_tokens BIGINT,
    cost_usd DOUBLE PRECISION,
    cost_estimated BOOLEAN NOT NULL DEFAULT FALSE,
    estimated_usd DOUBLE PRECISION,
    reserved_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    counted_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    billed BOOLEAN,
    error_code TEXT,
    error_message TEXT,
    elapsed_s DOUBLE PRECISION,
    pid INTEGER,
    replica TEXT,
    job_id TEXT,
    outputs JSONB NOT NULL DEFAULT '[]',
    images INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attempts_started_at ON attempts (started_at) INCLUDE (counted_usd);
CREATE INDEX attempts_model ON attempts (model);
CREATE INDEX attempts_tool ON attempts (tool);
CREATE INDEX attempts_job_id ON attempts (job_id);
CREATE INDEX attempts_open ON attempts (status) WHERE {OPEN_SQL};
CREATE FUNCTION easel_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the Easel ledger is append-only'; END $$;
CREATE TRIGGER attempts_append_only BEFORE DELETE ON attempts FOR EACH ROW EXECUTE FUNCTION easel_append_only();
CREATE TRIGGER attempts_no_truncate BEFORE TRUNCATE ON attempts EXECUTE FUNCTION easel_append_only();
"""

_M002 = """
ALTER TABLE attempts ADD COLUMN user_id TEXT;
CREATE INDEX attempts_user ON attempts (user_id, started_at) INCLUDE (counted_usd);
"""

_M003 = """
CREATE TABLE replicas (name TEXT PRIMARY KEY, seen_at TIMESTAMPTZ NOT NULL);
"""

_M004 = """
CREATE TABLE cancel_requests (job_id TEXT PRIMARY KEY, requested_at TIMESTAMPTZ NOT NULL);
"""

_M005 = """
CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    preview TEXT NOT NULL,
    user_id TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
"""

# The image index (storage/postgres_index.py): one row per (user, image file), "" for the user without OAuth. Text
# columns sort and compare in byte order (COLLATE "C"), as SQLite does, so pages and cursors match the SQLite index.
# The trigram index (substring search) is made only where the pg_trgm extension can be created.
_M006 = """
CREATE TABLE images (
    user_id TEXT COLLATE "C" NOT NULL,
    relative_path TEXT COLLATE "C" NOT NULL,
    folder TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    prompt TEXT,
    model TEXT COLLATE "C",
    provider TEXT COLLATE "C",
    width INTEGER,
    height INTEGER,
    format TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION,
    parents TEXT[] COLLATE "C" NOT NULL,
    name_slug TEXT NOT NULL,
    search TEXT NOT NULL,
    stamp TEXT NOT NULL,
    indexed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, relative_path)
);
CREATE INDEX images_order ON images (user_id, created_at DESC, id DESC, relative_path DESC);
CREATE INDEX images_id ON images (user_id, id);
CREATE INDEX images_parents ON images USING gin (parents);
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX images_search ON images USING gin (search gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'no pg_trgm (%): the image search scans the rows of the user', SQLERRM;
END $$;
"""

MIGRATIONS: list[tuple[str, str]] = [
    ("001_attempts", _M001),
    ("002_user_id", _M002),
    ("003_replicas", _M003),
    ("004_cancel_requests", _M004),
    ("005_tasks", _M005),
    ("006_images", _M006),
]


def migrate(conn: psycopg.Connection[DictRow], migrations: Sequence[tuple[str, str]] = MIGRATIONS) -> list[str]:
    """Apply the migrations not yet recorded, in one transaction under an advisory lock; refuse a newer database."""
    known = [name for name, _ in migrations]
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_MIGRATE,))
        conn.execute("CREATE TABLE IF NOT EXISTS easel_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ)")
        done = {row["name"] for row in conn.execute("SELECT name FROM easel_migrations")}
        if unknown := sorted(done - set(known)):
            raise ConfigurationError(
                f"the ledger database was migrated by a newer Easel (migrations {', '.join(unknown)}): upgrade "
                "Easel on every replica, or point EASEL_DATABASE_URL at another database"
            )
        applied = []
        for name, sql in migrations:
            if name not in done:
                conn.execute(sql.encode())
                conn.execute("INSERT INTO easel_migrations (name, applied_at) VALUES (%s, now())", (name,))
                applied.append(name)
    if applied:
        log.info("ledger migrations applied: %s", ", ".join(applied))
    return applied
