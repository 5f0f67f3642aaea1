"""PostgreSQL restarted under traffic, every part real: the throwaway cluster (stopped fast and started again on
the same port and data), Easel on streamable HTTP, an MCP client, the fake OpenAI server holding its answers.

What a restart does: a call whose reservation was running in PostgreSQL at that moment fails with a clear error
(nothing was sent, nothing billed); calls whose settle was running keep their paid images, and the Settler writes
their rows once the server is back; a new call succeeds, all with the same Easel process. The test holds locks in
PostgreSQL to have statements in flight at the moment of the restart (events, not timing)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from easel_mcp.settings import Settings
from easel_mcp.storage.postgres_ledger import LOCK_BUDGETS
from tests.fakes.openai_images import FakeOpenAIImages
from tests.helpers import error_text, structured
from tests.infra.easel_http import serving
from tests.infra.postgres import PostgresCluster

pytestmark = pytest.mark.anyio
HELD = 2  # calls waiting on the upstream when PostgreSQL goes away


async def _until(check: Any, what: str) -> None:
    """Poll a state (not a clock): the deadline only stops a hung test."""
    deadline = time.monotonic() + 120
    while not await anyio.to_thread.run_sync(check):
        assert time.monotonic() < deadline, f"never happened: {what}"
        await anyio.sleep(0.05)


def _waiting_on_locks(url: str, statement: str, count: int) -> bool:
    """`count` statements starting with `statement` wait on a lock the test holds."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
            (statement + "%",),
        ).fetchone()
    return row is not None and row[0] >= count


async def test_postgresql_restarted_under_traffic(
    postgres_cluster: PostgresCluster, postgres_url: str, workspace_dir: Path
) -> None:
    import psycopg

    with FakeOpenAIImages() as fake:

        def settings(url: str) -> Settings:
            return Settings(
                workspace=workspace_dir,
                openai_api_key="sk-test",
                openai_base_url=fake.base_url,
                database_url=postgres_url,
                daily_budget_usd=50.0,  # a limit: begin() takes the budget lock in PostgreSQL
            )  # type: ignore[call-arg]

        with serving(settings) as (url, easel):
            results: dict[str, CallToolResult] = {}

            async def call(name: str) -> None:
                async with httpx2.AsyncClient(timeout=300) as http:
                    async with Client(streamable_http_client(url, http_client=http)) as client:
                        results[name] = await client.call_tool(
                            "generate_image", {"prompt": f"a kite ({name})", "quality": "low"}
                        )

            fake.hold()
            locker = await anyio.to_thread.run_sync(psycopg.connect, postgres_url)  # a transaction left open
            try:
                async with anyio.create_task_group() as tg:
                    for i in range(HELD):
                        tg.start_soon(call, f"held {i}")
                    await fake.received(HELD)  # sent and waiting on the upstream
                    # Keep their settles in PostgreSQL when it goes away: the test holds their rows.
                    sent = await anyio.to_thread.run_sync(
                        lambda: locker.execute("SELECT id FROM attempts WHERE status = 'sent' FOR UPDATE").fetchall()
                    )
                    assert len(sent) == HELD
                    # And one more call, whose reservation waits on the budget lock.
                    await anyio.to_thread.run_sync(
                        lambda: locker.execute("SELECT pg_advisory_lock(%s)", (LOCK_BUDGETS,))
                    )
                    tg.start_soon(call, "in the database")
                    await _until(
                        lambda: _waiting_on_locks(postgres_url, "SELECT pg_advisory_xact_lock", 1), "reserving"
                    )
                    fake.release()
                    await _until(lambda: _waiting_on_locks(postgres_url, "UPDATE attempts", HELD), "settling")
                    await anyio.to_thread.run_sync(postgres_cluster.restart)  # pg_ctl stop -m fast, then start
            finally:
                locker.close()

            # The call whose statement PostgreSQL dropped fails, and says what happened and what it cost.
            refused = error_text(results["in the database"])
            assert "ledger database" in refused and "unreachable" in refused, refused
            assert "not sent" in refused and "nothing was billed" in refused, refused
            assert "password" not in refused.lower()
            # The calls waiting on the upstream keep their paid images.
            held = [structured(results[f"held {i}"]) for i in range(HELD)]
            for made in held:
                [image] = made["images"]
                assert (workspace_dir / image["relative_path"]).is_file()
            assert len(fake.requests) == HELD  # the refused call never reached the upstream

            # The same Easel process takes a new call once PostgreSQL is back.
            await call("after")
            assert structured(results["after"])["images"]

            # Every row is settled: the held calls with their cost, by the Settler's retry once the server is back.
            ledger = easel.studio.ledger
            await _until(lambda: not ledger.find_open(), "every ledger row settled")
            rows = await anyio.to_thread.run_sync(ledger.rows)
            by_job = {r["job_id"]: r for r in rows}
            for made in held:
                row = by_job[made["job_id"]]
                assert row["status"] == "ok" and row["cost_usd"] is not None and row["images"] == 1, row
            assert sorted(r["status"] for r in rows) == ["ok"] * (HELD + 1)  # the refused call left no row
            assert easel.studio.engine.settler.pending == []


async def test_postgresql_away_longer_than_the_retries(
    postgres_cluster: PostgresCluster, postgres_url: str, workspace_dir: Path
) -> None:
    """Down for longer than a settle is retried: the paid image is kept and the result says its row is not
    written yet; calls meanwhile are refused (not sent); once the server is back the replica's heartbeat writes
    the row, with no new call and no restart."""
    with FakeOpenAIImages() as fake:

        def settings(url: str) -> Settings:
            return Settings(
                workspace=workspace_dir,
                openai_api_key="sk-test",
                openai_base_url=fake.base_url,
                database_url=postgres_url,
                replica_heartbeat_s=0.2,
            )  # type: ignore[call-arg]

        async def call(url: str, name: str) -> CallToolResult:
            async with httpx2.AsyncClient(timeout=300) as http:
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    return await client.call_tool("generate_image", {"prompt": f"a kite ({name})", "quality": "low"})

        with serving(settings) as (url, easel):
            ledger = easel.studio.ledger
            ledger._wait_s = 0.5  # type: ignore[attr-defined]  # statements give up quickly while it is away
            results: dict[str, CallToolResult] = {}

            async def held() -> None:
                results["held"] = await call(url, "held")

            fake.hold()
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(held)
                    await fake.received(1)
                    await anyio.to_thread.run_sync(postgres_cluster.stop_server)
                    fake.release()
                # The upstream answered while PostgreSQL was away: the image is kept, the row is pending.
                made = structured(results["held"])
                [image] = made["images"]
                assert (workspace_dir / image["relative_path"]).is_file()
                assert any("could not record this call yet" in w for w in made["warnings"]), made["warnings"]
                assert len(easel.studio.engine.settler.pending) == 1
                refused = error_text(await call(url, "while away"))
                assert "unreachable" in refused and "nothing was billed" in refused, refused
                assert len(fake.requests) == 1
            finally:
                await anyio.to_thread.run_sync(postgres_cluster.start_server)

            # Back: the heartbeat writes the pending row, no call needed.
            await _until(lambda: not easel.studio.engine.settler.pending, "the pending settle written")
            [row] = await anyio.to_thread.run_sync(ledger.job_rows, made["job_id"])
            assert row["status"] == "ok" and row["cost_usd"] is not None and row["images"] == 1, row
            assert structured(await call(url, "after"))["images"]
            assert ledger.find_open() == []
