"""The ledger on a real PostgreSQL server (a throwaway cluster): the same answers as the SQLite ledger,
budgets that hold across replicas, named migrations, append-only rows, and a server restart survived."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from easel_mcp.budgets import Budgets
from easel_mcp.errors import BudgetExceeded, ConfigurationError, DatabaseUnavailable
from easel_mcp.ledger import Ledger
from easel_mcp.storage.postgres_ledger import PostgresLedger, redact
from tests.infra.postgres import PostgresCluster

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
VOLATILE = {"id", "pid", "replica", "params_json", "usage_json", "outputs_json"}


def _scenario(ledger: Ledger | PostgresLedger) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One day of calls: paid, failed before billing, billed without a known cost, abandoned, cancelled."""
    budgets = Budgets(daily_usd=10.0)

    def begin(model: str, reserve: float, minutes: int, tool: str = "generate_image") -> Any:
        return ledger.begin(
            tool=tool,
            provider="openai",
            model=model,
            params={"prompt": "a fox", "n": 1},
            estimated_usd=reserve * 0.8,
            reserve_usd=reserve,
            budgets=budgets,
            job_id=f"job{minutes}",
            now=NOW + timedelta(minutes=minutes),
        )

    ok = begin("gpt-image-1.5", 0.2, 1)
    ledger.mark_sent(ok)
    usage = {"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210}
    ledger.settle(ok, status="ok", cost_usd=0.17, usage=usage, request_id="req_1", outputs=["a.png", "b.png"])
    failed = begin("gpt-image-2", 0.3, 2, tool="edit_image")
    ledger.settle(failed, status="error", cost_usd=None, usage=None, request_id=None, billed=False, error_code="x")
    unknown = begin("gpt-image-2", 0.4, 3)
    ledger.mark_sent(unknown)
    ledger.settle(unknown, status="error", cost_usd=None, usage=None, request_id=None, error_code="timeout")
    gemini = begin("gemini-2.5-flash-image", 0.05, 4)
    ledger.settle(gemini, status="ok", cost_usd=None, usage={"promptTokenCount": 9, "candidatesTokenCount": 1290},
                  request_id=None, billed=True)  # fmt: skip
    cancelled = begin("gpt-image-1.5", 0.1, 5)
    ledger.settle(cancelled, status="cancelled", cost_usd=None, usage=None, request_id=None, billed=False)
    begin("gpt-image-1.5", 0.25, 6)  # left open, then abandoned
    assert ledger.abandon_stale(older_than_s=60, now=NOW + timedelta(hours=1)) == 1
    rows = [{k: v for k, v in r.items() if k not in VOLATILE and k != "finished_at"} for r in ledger.rows()]
    reports = [ledger.report(since=None, by=by) for by in (None, "model", "day", "tool", "provider")]
    reports.append(ledger.report(since=NOW + timedelta(minutes=3), by="model"))
    reports.append(
        {
            "spent": ledger.spent(NOW),
            "left": ledger.budget_left(budgets, now=NOW),
            "jobs": ledger.job_rows("job3")[0]["status"],
        }
    )
    return rows, reports


def test_the_same_answers_as_the_sqlite_ledger(postgres_url: str, tmp_path: Path) -> None:
    sqlite = Ledger.open(tmp_path / "ledger.sqlite3")
    postgres = PostgresLedger.open(postgres_url)
    try:
        assert _scenario(postgres) == _scenario(sqlite)
    finally:
        postgres.close()
        sqlite.close()


def test_budgets_hold_across_replicas(postgres_url: str) -> None:
    """3 replicas x 16 parallel reservations of $0.25 against a $1.25 day: exactly 5 go through."""
    replicas = [PostgresLedger.open(postgres_url, max_connections=16) for _ in range(3)]
    budgets = Budgets(daily_usd=1.25)
    outcomes: list[str] = []
    start = threading.Barrier(48)

    def one(ledger: PostgresLedger) -> None:
        start.wait()
        try:
            ledger.begin(
                tool="generate_image",
                provider="openai",
                model="gpt-image-1.5",
                params={},
                estimated_usd=0.25,
                reserve_usd=0.25,
                budgets=budgets,
            )
            outcomes.append("reserved")
        except BudgetExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=one, args=(r,)) for r in replicas for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert outcomes.count("reserved") == 5 and outcomes.count("refused") == 43
        assert replicas[0].spent(datetime.now(UTC) - timedelta(days=1)) == pytest.approx(1.25)
    finally:
        for r in replicas:
            r.close()


def test_rows_are_append_only(postgres_url: str) -> None:
    import psycopg

    ledger = PostgresLedger.open(postgres_url)
    ledger.begin(tool="t", provider="p", model="m", params={}, estimated_usd=0.1, reserve_usd=0.1, budgets=Budgets())
    ledger.close()
    with psycopg.connect(postgres_url) as conn:
        for statement in ("DELETE FROM attempts", "TRUNCATE attempts"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
            conn.rollback()


def test_migrations_run_once_and_a_newer_database_is_refused(postgres_url: str) -> None:
    import psycopg

    first, second = PostgresLedger.open(postgres_url), PostgresLedger.open(postgres_url)  # the second finds it done
    first.close()
    second.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM easel_migrations ORDER BY name")]
        assert names == [
            "001_attempts",
            "002_user_id",
            "003_replicas",
            "004_cancel_requests",
            "005_tasks",
            "006_images",
        ]
        conn.execute("INSERT INTO easel_migrations VALUES ('999_from_the_future', now())")
    with pytest.raises(ConfigurationError, match=r"newer Easel.*999_from_the_future"):
        PostgresLedger.open(postgres_url)


def test_a_server_restart_fails_only_what_is_in_flight(postgres_cluster: PostgresCluster, postgres_url: str) -> None:
    ledger = PostgresLedger.open(postgres_url)
    try:
        args: dict[str, Any] = dict(
            tool="t", provider="p", model="m", params={}, estimated_usd=0.1, reserve_usd=0.1, budgets=Budgets()
        )
        ledger.begin(**args)
        postgres_cluster.restart()
        # The pool's connection died with the server: it is checked before use and replaced, no restart of Easel.
        ledger.begin(**args)
        assert len(ledger.rows()) == 2
    finally:
        ledger.close()


def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(DatabaseUnavailable, match=r"cannot use the ledger database postgresql://easel@127\.0\.0\.1:9/"):
        PostgresLedger("postgresql://easel:secret@127.0.0.1:9/easel", wait_s=1)._connection_pool()
    assert "secret" not in redact("postgresql://easel:secret@db.example:5433/easel")


def test_the_open_calls_of_a_replica_that_stopped_are_settled(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easel_mcp.storage import postgres_ledger, postgres_replicas

    def acting_as(name: str) -> None:  # rows, heartbeats and sweeps as written by replica `name`
        for module in (postgres_ledger, postgres_replicas):
            monkeypatch.setattr(module, "replica_name", lambda: name)

    ledger = PostgresLedger.open(postgres_url)
    args: dict[str, Any] = dict(
        tool="t", provider="p", model="m", params={}, estimated_usd=0.1, reserve_usd=0.2, budgets=Budgets()
    )
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    try:
        acting_as("ghost:1")  # never says it is alive
        ledger.mark_sent(ledger.begin(**args, job_id="sent", now=long_ago))
        ledger.begin(**args, job_id="reserved", now=long_ago)
        ledger.begin(**args, job_id="recent")  # too recent to judge
        acting_as("alive:2")
        ledger.heartbeat()
        ledger.mark_sent(ledger.begin(**args, job_id="alive", now=long_ago))
        acting_as("me:3")
        assert ledger.sweep(dead_after_s=30) == 2
        assert ledger.sweep(dead_after_s=30) == 0  # settled once
        status = {r["job_id"]: (r["status"], r["counted_usd"], r["error_code"]) for r in ledger.rows()}
        assert status == {
            "sent": ("abandoned", 0.2, "replica_lost"),  # may have been billed: still counted
            "reserved": ("error", 0.0, "replica_lost"),  # never sent: not billed
            "recent": ("reserved", 0.2, None),
            "alive": ("sent", 0.2, None),
        }
        [lost] = ledger.job_rows("sent")
        assert "may have been billed" in lost["error_message"]
    finally:
        ledger.close()
