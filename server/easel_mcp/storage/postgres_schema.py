"""The PostgreSQL ledger's named migrations (append-only: a released migration is never edited)."""

from __future__ import annotations

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

MIGRATIONS: list[tuple[str, str]] = [
    ("001_attempts", _M001),
    ("002_user_id", _M002),
    ("003_replicas", _M003),
    ("004_cancel_requests", _M004),
]
