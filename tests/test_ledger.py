"""The money ledger: migrations, budgets under concurrency, settle semantics, reports, parse_since."""

from __future__ import annotations

import multiprocessing
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from easel_mcp.budgets import usd
from easel_mcp.errors import BudgetExceeded, ConfigurationError, InvalidRequest
from easel_mcp.ledger import MIGRATIONS, Attempt, Budgets, Ledger, format_report, migrate, parse_since

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NO_LIMITS = Budgets()


def _db(tmp_path: Path) -> Path:
    return tmp_path / "workspace" / ".easel" / "ledger.sqlite3"


def _begin(
    ledger: Ledger,
    reserve: float | None,
    budgets: Budgets = NO_LIMITS,
    *,
    model: str = "gpt-image-1",
    tool: str = "generate_image",
    now: datetime = NOW,
    estimated: float | None = None,
) -> Attempt:
    return ledger.begin(
        tool=tool,
        provider="openai",
        model=model,
        params={"prompt": "a fox", "n": 1},
        estimated_usd=estimated if estimated is not None else reserve,
        reserve_usd=reserve,
        budgets=budgets,
        now=now,
    )


def _spend(
    ledger: Ledger,
    cost: float,
    *,
    now: datetime = NOW,
    model: str = "gpt-image-1",
    tool: str = "generate_image",
    outputs: tuple[str, ...] = ("a.png",),
) -> None:
    attempt = _begin(ledger, cost, model=model, tool=tool, now=now)
    ledger.settle(
        attempt,
        status="ok",
        cost_usd=cost,
        usage={"input_tokens": 10, "output_tokens": 100},
        request_id="req_1",
        outputs=outputs,
        now=now,
    )


def _columns(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[1] for row in conn.execute("PRAGMA table_info(attempts)")}


# --- migrations and pragmas -------------------------------------------------------------------------------------


def test_open_creates_the_database_from_empty(tmp_path: Path) -> None:
    path = _db(tmp_path)
    Ledger(path)
    assert not path.parent.exists()  # the constructor does not touch the disk
    Ledger.open(path)
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]
    assert {
        "id",
        "started_at",
        "finished_at",
        "tool",
        "provider",
        "model",
        "params_json",
        "params_digest",
        "status",
        "request_id",
        "usage_json",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "cost_estimated",
        "estimated_usd",
        "reserved_usd",
        "outputs_json",
        "error_code",
        "error_message",
        "elapsed_s",
        "job_id",
        "pid",
    } <= _columns(path)


def test_upgrade_from_the_previous_schema_keeps_the_data(tmp_path: Path) -> None:
    path = _db(tmp_path)
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, MIGRATIONS[:1]) == ["001_initial"]
    conn.execute(
        "INSERT INTO attempts (started_at, tool, provider, model, params_json, params_digest, status,"
        " cost_usd, counted_usd) VALUES ('2026-11-24T10:00:00.000000Z', 'generate_image', 'openai',"
        " 'gpt-image-1', '{}', 'x', 'ok', 0.25, 0.25)"
    )
    conn.close()
    assert "job_id" not in _columns(path)

    ledger = Ledger.open(path)
    assert {"job_id", "outputs_json", "images"} <= _columns(path)
    (old,) = ledger.rows()
    assert (old["cost_usd"], old["outputs"], old["job_id"]) == (0.25, [], None)
    attempt = ledger.begin(
        tool="edit_image",
        provider="openai",
        model="gpt-image-1",
        params={},
        estimated_usd=0.1,
        reserve_usd=0.1,
        budgets=NO_LIMITS,
        job_id="job-7",
        now=NOW,
    )
    assert ledger.rows()[-1]["job_id"] == "job-7" and attempt.id == old["id"] + 1
    assert ledger.spent(NOW - timedelta(days=2)) == pytest.approx(0.35)


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    path = _db(tmp_path)
    Ledger.open(path)
    Ledger.open(path)
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn) == []
    assert conn.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def test_wal_pragmas_and_append_time(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    conn = ledger._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    budgets = Budgets(max_cost_per_call_usd=1.0, daily_usd=1e6, monthly_usd=1e6)
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        attempt = _begin(ledger, 0.04, budgets)
        times.append(time.perf_counter() - t0)
        ledger.settle(attempt, status="ok", cost_usd=0.04, usage=None, request_id=None)
    median_ms = statistics.median(times) * 1000
    print(f"\nledger append (begin with 3 budget checks): median {median_ms:.3f} ms over {len(times)}")


def test_rows_are_never_deleted(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    _spend(ledger, 0.1)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        ledger._conn().execute("DELETE FROM attempts")


# --- budgets ----------------------------------------------------------------------------------------------------


def test_per_call_limit_refuses_and_records_nothing(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    with pytest.raises(BudgetExceeded) as info:
        _begin(ledger, 0.67, Budgets(max_cost_per_call_usd=0.5))
    err = info.value
    assert isinstance(err, InvalidRequest)
    assert (err.limit_usd, err.estimate_usd, err.left_usd) == (0.5, 0.67, 0.5)
    assert "$0.67" in str(err) and "EASEL_MAX_COST_PER_CALL_USD=$0.50" in str(err) and str(err).endswith(".")
    assert ledger.rows() == []
    _begin(ledger, 0.5, Budgets(max_cost_per_call_usd=0.5))  # exactly the limit fits


def test_daily_limit_names_what_is_left(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    _spend(ledger, 0.58)
    with pytest.raises(BudgetExceeded) as info:
        _begin(ledger, 0.67, Budgets(daily_usd=1.0))
    err = info.value
    assert err.limit_usd == 1.0 and err.left_usd == pytest.approx(0.42) and err.estimate_usd == 0.67
    assert str(err) == (
        "this call could cost up to $0.67 but the daily budget (EASEL_DAILY_BUDGET_USD=$1.00) "
        "has $0.42 left today (UTC)."
    )
    _begin(ledger, 0.42, Budgets(daily_usd=1.0))  # exactly what is left fits (float sums)
    assert ledger.budget_left(Budgets(daily_usd=1.0), now=NOW) == {"per_call": None, "today": 0.0, "this_month": None}


def test_open_reservations_count(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    attempt = _begin(ledger, 0.6, Budgets(daily_usd=1.0))
    ledger.mark_sent(attempt)
    with pytest.raises(BudgetExceeded):
        _begin(ledger, 0.5, Budgets(daily_usd=1.0))
    ledger.settle(attempt, status="ok", cost_usd=0.2, usage=None, request_id="r")
    _begin(ledger, 0.5, Budgets(daily_usd=1.0))  # the settled cost replaced the reservation


def test_monthly_limit(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    _spend(ledger, 4.0, now=datetime(2026, 11, 1, 0, 0, tzinfo=UTC))
    _spend(ledger, 4.0, now=datetime(2026, 11, 20, tzinfo=UTC))
    _spend(ledger, 50.0, now=datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC))  # last month
    budgets = Budgets(daily_usd=5.0, monthly_usd=10.0)
    with pytest.raises(
        BudgetExceeded,
        match=r"monthly budget \(EASEL_MONTHLY_BUDGET_USD=\$10.00\) has \$2.00 left"
        r" this month \(UTC\)\.$",
    ) as info:
        _begin(ledger, 2.5, budgets)
    assert info.value.left_usd == pytest.approx(2.0)
    assert ledger.budget_left(budgets, now=NOW) == {"per_call": None, "today": 5.0, "this_month": pytest.approx(2.0)}


def test_utc_day_boundary(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    _spend(ledger, 0.9, now=datetime(2026, 11, 24, 23, 59, 59, tzinfo=UTC))
    just_after = datetime(2026, 11, 25, 0, 0, 30, tzinfo=UTC)
    _begin(ledger, 0.9, Budgets(daily_usd=1.0), now=just_after)  # yesterday's row does not count today
    # 01:30 in UTC+2 is still 23:30 yesterday in UTC: both rows of that UTC day count.
    local_morning = datetime(2026, 11, 25, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    with pytest.raises(BudgetExceeded):
        _begin(ledger, 0.2, Budgets(daily_usd=1.0), now=local_morning)


def test_unknown_price_with_a_limit_is_refused(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    with pytest.raises(BudgetExceeded) as info:
        _begin(ledger, None, Budgets(daily_usd=1.0, monthly_usd=20.0), model="mystery-model")
    text = str(info.value)
    assert "mystery-model is unknown" in text and "EASEL_PRICES_FILE" in text and "remove the limits." in text
    assert "EASEL_DAILY_BUDGET_USD=$1.00" in text and "EASEL_MONTHLY_BUDGET_USD=$20.00" in text
    assert info.value.limit_usd == 1.0 and info.value.left_usd == 1.0
    assert ledger.rows() == []


def test_no_limits_always_allowed(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    unknown = _begin(ledger, None, model="mystery-model")
    assert unknown.reserved_usd == 0.0 and unknown.estimated_usd is None
    _begin(ledger, 1000.0)
    assert len(ledger.rows()) == 2
    assert ledger.budget_left(NO_LIMITS) == {"per_call": None, "today": None, "this_month": None}


def test_budgets_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="daily_usd"):
        Budgets(daily_usd=-1.0)


# --- concurrency ------------------------------------------------------------------------------------------------


def _hammer(ledger: Ledger, amounts: list[float], budgets: Budgets) -> int:
    granted = 0
    for amount in amounts:
        try:
            _begin(ledger, amount, budgets)
            granted += 1
        except BudgetExceeded:
            pass
    return granted


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(amounts=st.lists(st.floats(0.005, 0.4), min_size=8, max_size=16), limit=st.floats(0.1, 2.0))
def test_threads_never_overrun_the_daily_budget(amounts: list[float], limit: float) -> None:
    budgets = Budgets(daily_usd=limit)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.open(Path(tmp) / "ledger.sqlite3")
        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(_hammer(ledger, amounts, budgets))) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows = ledger.rows()
        assert len(rows) == sum(results)
        assert sum(r["reserved_usd"] for r in rows) <= limit + 1e-9
        assert ledger.spent(NOW - timedelta(hours=1)) <= limit + 1e-9
        if min(amounts) <= limit:  # the first call that fits alone is always granted
            assert rows
        reserved = sum(r["reserved_usd"] for r in rows)
        assert ledger.budget_left(budgets, now=NOW)["today"] == pytest.approx(limit - reserved)
        ledger.close()


def _process_worker(path: str, seed: int, start: Any) -> None:
    ledger = Ledger.open(Path(path))
    rng = random.Random(seed)
    start.wait(30)
    budgets = Budgets(daily_usd=3.0)
    for _ in range(40):
        reserve = rng.uniform(0.01, 0.3)
        try:
            attempt = ledger.begin(
                tool="generate_image",
                provider="openai",
                model="gpt-image-1",
                params={"seed": seed},
                estimated_usd=reserve / 2,
                reserve_usd=reserve,
                budgets=budgets,
            )
        except BudgetExceeded:
            continue
        ledger.mark_sent(attempt)
        if rng.random() < 0.3:
            ledger.settle(attempt, status="error", cost_usd=None, usage=None, request_id=None, billed=False)
        else:
            ledger.settle(attempt, status="ok", cost_usd=rng.uniform(0, reserve), usage=None, request_id="r")
    ledger.close()


def test_processes_never_overrun_the_daily_budget(tmp_path: Path) -> None:
    path = _db(tmp_path)
    Ledger.open(path).close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    procs = [ctx.Process(target=_process_worker, args=(str(path), seed, start)) for seed in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    ledger = Ledger.open(path)
    day_start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert 0 < ledger.spent(day_start - timedelta(days=1)) <= 3.0 + 1e-9
    assert len({r["pid"] for r in ledger.rows()}) >= 2  # the processes really did share the file
    assert ledger.find_open() == []


# --- settle and abandon -----------------------------------------------------------------------------------------


def _row(ledger: Ledger, attempt: Attempt) -> dict[str, Any]:
    return next(r for r in ledger.rows() if r["id"] == attempt.id)


def test_settle_semantics(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    since = NOW - timedelta(hours=1)

    ok = _begin(ledger, 0.3, estimated=0.2)
    assert _row(ledger, ok)["status"] == "reserved"
    ledger.mark_sent(ok)
    assert _row(ledger, ok)["status"] == "sent"
    ledger.settle(
        ok,
        status="ok",
        cost_usd=0.25,
        usage={"input_tokens": 50, "output_tokens": 4160},
        request_id="req_ok",
        outputs=["2026-11-25/fox-1.png", "2026-11-25/fox-2.png"],
        elapsed_s=12.5,
    )
    row = _row(ledger, ok)
    assert (
        row["status"],
        row["cost_usd"],
        row["cost_estimated"],
        row["input_tokens"],
        row["output_tokens"],
        row["images"],
        row["request_id"],
    ) == ("ok", 0.25, 0, 50, 4160, 2, "req_ok")
    assert row["outputs"] == ["2026-11-25/fox-1.png", "2026-11-25/fox-2.png"] and row["finished_at"].endswith("Z")
    assert ledger.spent(since) == pytest.approx(0.25)

    no_usage = _begin(ledger, 0.3, estimated=0.2)
    ledger.settle(no_usage, status="ok", cost_usd=None, usage=None, request_id="req_2")
    row = _row(ledger, no_usage)
    assert (row["cost_usd"], row["cost_estimated"]) == (0.2, 1)
    assert ledger.spent(since) == pytest.approx(0.25 + 0.3)  # the reservation still counts

    unbilled = _begin(ledger, 0.3)
    ledger.settle(
        unbilled,
        status="error",
        cost_usd=None,
        usage=None,
        request_id="req_3",
        error_code="moderation_blocked",
        error_message="refused",
        billed=False,
    )
    row = _row(ledger, unbilled)
    assert (row["status"], row["cost_usd"], row["billed"], row["error_code"]) == ("error", 0.0, 0, "moderation_blocked")
    assert ledger.spent(since) == pytest.approx(0.55)

    unknown = _begin(ledger, 0.3)
    ledger.mark_sent(unknown)
    ledger.settle(unknown, status="error", cost_usd=None, usage=None, request_id=None, error_code="timeout")
    row = _row(ledger, unknown)
    assert row["cost_usd"] is None and row["billed"] is None
    assert ledger.spent(since) == pytest.approx(0.85)

    ledger.settle(ok, status="error", cost_usd=None, usage=None, request_id=None)  # already settled: ignored
    assert _row(ledger, ok)["status"] == "ok"


def test_writes_from_many_threads_share_one_connection(tmp_path: Path) -> None:
    """Reserve, sent and settle from 16 fresh threads at once (a burst of calls on new worker threads): they
    queue for the one writer connection instead of each opening and checking a connection of its own."""
    ledger = Ledger.open(_db(tmp_path))
    start = threading.Barrier(16)

    def call() -> None:
        start.wait()
        attempt = _begin(ledger, 0.01)
        ledger.mark_sent(attempt)
        ledger.settle(attempt, status="ok", cost_usd=0.01, usage=None, request_id="req", outputs=("a.png",))

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ledger.report(since=None, by=None)["calls"] == 16
    assert len(ledger._connections) == 2  # this thread's (open, report) and the one writer
    ledger.close()


def test_params_are_stored_with_a_canonical_digest(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    for params in ({"b": 1, "a": [1, 2]}, {"a": [1, 2], "b": 1}):
        ledger.begin(
            tool="t", provider="p", model="m", params=params, estimated_usd=None, reserve_usd=None, budgets=NO_LIMITS
        )
    first, second = ledger.rows()
    assert first["params_json"] == '{"a":[1,2],"b":1}' and first["params"] == {"a": [1, 2], "b": 1}
    assert first["params_digest"] == second["params_digest"] and len(first["params_digest"]) == 64


def test_abandon_stale(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    old = _begin(ledger, 0.4, now=NOW - timedelta(hours=2))
    ledger.mark_sent(old)
    fresh = _begin(ledger, 0.1, now=NOW - timedelta(seconds=30))
    assert [r["id"] for r in ledger.find_open()] == [old.id, fresh.id]
    assert ledger.abandon_stale(600, now=NOW) == 1
    assert _row(ledger, old)["status"] == "abandoned"
    assert [r["id"] for r in ledger.find_open()] == [fresh.id]
    assert ledger.spent(NOW - timedelta(days=1)) == pytest.approx(0.5)  # abandoned rows keep counting
    assert ledger.abandon_stale(600, now=NOW) == 0
    ledger.settle(old, status="ok", cost_usd=0.3, usage=None, request_id="late")  # a late answer still lands
    assert _row(ledger, old)["status"] == "ok"
    assert ledger.spent(NOW - timedelta(days=1)) == pytest.approx(0.4)


def test_rows_since_and_limit(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    for hour in range(5):
        _spend(ledger, 0.01 * (hour + 1), now=NOW + timedelta(hours=hour))
    assert [r["cost_usd"] for r in ledger.rows(limit=2)] == [0.04, 0.05]
    assert len(ledger.rows(since=NOW + timedelta(hours=3))) == 2


# --- reports ----------------------------------------------------------------------------------------------------


def test_report_totals_and_groups(tmp_path: Path) -> None:
    ledger = Ledger.open(_db(tmp_path))
    day1, day2 = NOW - timedelta(days=1), NOW
    _spend(ledger, 0.04, now=day1, model="gpt-image-1-mini", outputs=("a.png", "b.png"))
    _spend(ledger, 0.17, now=day2, model="gpt-image-1")
    _spend(ledger, 0.17, now=day2, model="gpt-image-1", tool="edit_image")
    failed = _begin(ledger, 0.2, now=day2)
    ledger.settle(failed, status="error", cost_usd=None, usage=None, request_id=None, billed=False)
    _begin(ledger, 0.1, now=day2)  # still open

    report = ledger.report(since=None, by="model")
    assert (report["calls"], report["images"], report["failed"], report["open"]) == (5, 4, 1, 1)
    assert report["cost_usd"] == pytest.approx(0.38)
    assert report["estimated_usd"] == pytest.approx(0.04 + 0.17 + 0.17 + 0.2 + 0.1)
    assert [(g["key"], g["calls"], g["images"]) for g in report["groups"]] == [
        ("gpt-image-1", 4, 2),
        ("gpt-image-1-mini", 1, 2),
    ]
    assert report["groups"][0]["cost_usd"] == pytest.approx(0.34) and report["groups"][0]["output_tokens"] == 200

    by_day = ledger.report(since=None, by="day")["groups"]
    assert [(g["key"], g["calls"]) for g in by_day] == [("2026-11-24", 1), ("2026-11-25", 4)]
    by_tool = ledger.report(since=day2 - timedelta(minutes=1), by="tool")
    assert by_tool["since"] == "2026-11-25T11:59:00.000000Z" and by_tool["calls"] == 4
    assert {g["key"]: g["calls"] for g in by_tool["groups"]} == {"generate_image": 3, "edit_image": 1}
    assert ledger.report(since=None, by="provider")["groups"][0]["key"] == "openai"
    assert ledger.report(since=None, by=None)["groups"] == []

    text = format_report(report)
    assert text.splitlines()[0] == "5 calls, 4 images, $0.38 (estimated $0.68), 1 failed, 1 open (all time)."
    assert "gpt-image-1-mini" in text and "output tokens" in text
    print("\n" + text)


def _insert_synthetic(path: Path, count: int) -> None:
    """Test helper: `count` settled rows over 60 days, 4 models, 3 tools, in one transaction."""
    models, tools = ["gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2"], ["generate", "edit", "var"]
    start = NOW - timedelta(days=60)
    rows = [
        (
            (start + timedelta(seconds=i * 51.84)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            tools[i % 3],
            "openai",
            models[i % 4],
            "{}",
            "d",
            "ok",
            100,
            4000,
            0.04,
            0.05,
            0.06,
            0.04,
            1,
            '["x.png"]',
        )
        for i in range(count)
    ]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO attempts (started_at, tool, provider, model, params_json, params_digest, status, input_tokens,"
        " output_tokens, cost_usd, estimated_usd, reserved_usd, counted_usd, images, outputs_json)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.execute("COMMIT")
    conn.close()


def test_report_over_100k_rows(tmp_path: Path) -> None:
    path = _db(tmp_path)
    ledger = Ledger.open(path)
    _insert_synthetic(path, 100_000)
    timings = {}
    for by in (None, "model", "day", "tool"):
        t0 = time.perf_counter()
        report = ledger.report(since=None, by=by)  # type: ignore[arg-type]
        timings[by] = (time.perf_counter() - t0) * 1000
        assert report["calls"] == 100_000 and report["images"] == 100_000
    t0 = time.perf_counter()
    week = ledger.report(since=NOW - timedelta(days=7), by="model")
    timings["7d by model"] = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    _begin(ledger, 0.1, Budgets(daily_usd=1e6, monthly_usd=1e6))
    timings["begin, 2 budget checks"] = (time.perf_counter() - t0) * 1000
    print("\nover 100,000 rows: " + ", ".join(f"{k or 'totals'} {v:.1f} ms" for k, v in timings.items()))
    assert 0 < week["calls"] < 100_000


# --- parse_since and money text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("24h", NOW - timedelta(hours=24)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(weeks=2)),
        (" 7D ", NOW - timedelta(days=7)),
        ("today", datetime(2026, 11, 25, tzinfo=UTC)),
        ("month", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-10-03", datetime(2026, 10, 3, tzinfo=UTC)),
        ("2026-10-03T08:00:00Z", datetime(2026, 10, 3, 8, tzinfo=UTC)),
        ("2026-10-03T08:00:00+02:00", datetime(2026, 10, 3, 6, tzinfo=UTC)),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["", "yesterday-ish", "7", "d7", "7y", "2026-13-01"])
def test_parse_since_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="use a span back from now such as 30m, 24h, 7d or 2w"):
        parse_since(text, now=NOW)


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0.005, "$0.005"),
        (0.42000000000000004, "$0.42"),
        (1, "$1.00"),
        (0.123456, "$0.1235"),
        (1234.5, "$1,234.50"),
        (-0.5, "-$0.50"),
        (-0.00001, "$0.00"),
    ],
)
def test_usd(amount: float, text: str) -> None:
    assert usd(amount) == text


def test_a_ledger_from_a_newer_easel_is_refused(tmp_path: Path) -> None:
    path = _db(tmp_path)
    Ledger.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO _migrations VALUES ('999_from_the_future', '2027-01-01')")
    with pytest.raises(ConfigurationError, match=r"newer Easel \(migrations 999_from_the_future\)"):
        Ledger.open(path)
