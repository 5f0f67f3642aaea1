"""Slow models, flaky networks, clients that go away: progress, jobs, cancellation without loss.

No test measures wall-clock windows: the fake upstream is held and released (``hold``/``release``) and the
tests wait for what happened (a request received, a progress message, a file written)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from easel_mcp.app import build_server
from easel_mcp.service import jobs
from easel_mcp.settings import Settings
from tests.fakes.openai_images import FakeOpenAIImages, Scripted
from tests.helpers import error_text, structured

pytestmark = pytest.mark.anyio


def _settings(workspace: Path, fake: FakeOpenAIImages, **kw: object) -> Settings:
    return Settings(
        workspace=workspace, openai_api_key="sk-test", openai_base_url=fake.base_url, retry_base_delay_s=0.01, **kw
    )  # type: ignore[arg-type]


def _images(workspace: Path) -> list[Path]:
    return [p for p in workspace.rglob("*.png") if ".easel" not in p.parts]


def test_followers_beat_at_least_every_5_s() -> None:
    # The relay interval is a design constant; the test below proves the beats come while the upstream is
    # held, without measuring wall-clock gaps (which a loaded machine would stretch).
    assert 0 < jobs.FOLLOW_BEAT_S <= 5.0


async def test_progress_keeps_coming_while_the_upstream_is_slow(
    workspace_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "FOLLOW_BEAT_S", 0.05)
    beats: list[str] = []
    three_waits = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        beats.append(message or "")
        if sum(m.startswith("waiting for gpt-image-1.5 (") and ", job " in m for m in beats) >= 3:
            three_waits.set()

    with FakeOpenAIImages() as fake:
        fake.hold()
        async with Client(build_server(_settings(workspace_dir, fake))) as client, anyio.create_task_group() as tg:
            outcome: dict[str, object] = {}

            async def call() -> None:
                outcome["result"] = await client.call_tool(
                    "generate_image", {"prompt": "x", "quality": "low"}, progress_callback=on_progress
                )

            tg.start_soon(call)
            with anyio.fail_after(60):  # only stops a hung test; the beats come every 0.05 s
                await three_waits.wait()
            fake.release()
    structured(outcome["result"])  # type: ignore[arg-type]
    assert beats[0] == "queued"
    assert any(m.startswith("writing") for m in beats)


async def test_wait_false_returns_a_job_and_get_job_returns_the_images(workspace_dir: Path) -> None:
    with FakeOpenAIImages() as fake:
        fake.hold()  # the upstream answers only after the handle came back: the call did not wait for it
        async with Client(build_server(_settings(workspace_dir, fake))) as client:
            handle = structured(await client.call_tool("generate_image", {"prompt": "x", "wait": False}))
            assert handle["status"] == "running" and handle["job_id"] and handle["images"] == []
            assert handle["estimated_cost_usd"] > 0
            fake.release()
            done = structured(await client.call_tool("get_job", {"job_id": handle["job_id"], "wait_s": 50}))
    assert done["status"] == "done" and len(done["result"]["images"]) == 1
    assert Path(done["result"]["images"][0]["path"]).is_file()


async def test_sync_timeout_hands_back_a_running_job(workspace_dir: Path) -> None:
    with FakeOpenAIImages() as fake:
        fake.hold()
        async with Client(build_server(_settings(workspace_dir, fake, sync_timeout_s=0.5))) as client:
            handle = structured(await client.call_tool("generate_image", {"prompt": "x"}))
            assert handle["status"] == "running"
            await fake.received(1)
            running = structured(await client.call_tool("get_job", {"job_id": handle["job_id"], "wait_s": 0}))
            assert running["status"] == "running" and "waiting for" in running["stage"]
            fake.release()
            done = structured(await client.call_tool("get_job", {"job_id": handle["job_id"], "wait_s": 50}))
    assert done["status"] == "done"


async def test_client_cancelling_after_the_request_was_sent_loses_nothing(workspace_dir: Path) -> None:
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    with FakeOpenAIImages() as fake:
        fake.hold()
        server = build_server(_settings(workspace_dir, fake))
        async with Client(server) as client:
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    await client.call_tool("generate_image", {"prompt": "paid for"}, progress_callback=on_progress)

                tg.start_soon(call)
                await fake.received(1)  # the request reached the model: from here on it is paid for
                with anyio.fail_after(60):
                    while not any(re.search(r"job [0-9a-f]{12}", m) for m in messages):
                        await anyio.sleep(0.01)
                tg.cancel_scope.cancel()  # the client gives up waiting
            assert len(fake.requests) == 1 and _images(workspace_dir) == []
            job_id = next(m.group(1) for m in map(re.compile(r"job ([0-9a-f]{12})").search, messages) if m)
            fake.release()
            done = structured(await client.call_tool("get_job", {"job_id": job_id, "wait_s": 50}))
    assert done["status"] == "done"
    [image] = _images(workspace_dir)
    assert done["result"]["images"][0]["path"] == str(image)
    [row] = server.studio.ledger.rows()
    assert row["status"] == "ok" and row["cost_usd"] == pytest.approx(fake.charged_usd)


async def test_cancel_job_before_it_is_sent_bills_nothing(workspace_dir: Path) -> None:
    with FakeOpenAIImages() as fake:
        fake.hold()
        server = build_server(_settings(workspace_dir, fake, max_concurrency=1))
        async with Client(server) as client:
            first = structured(await client.call_tool("generate_image", {"prompt": "a", "wait": False}))
            await fake.received(1)  # the first holds the only slot: the second queues behind it
            second = structured(await client.call_tool("generate_image", {"prompt": "b", "wait": False}))
            cancelled = structured(await client.call_tool("cancel_job", {"job_id": second["job_id"]}))
            fake.release()
            structured(await client.call_tool("get_job", {"job_id": first["job_id"], "wait_s": 50}))
    assert cancelled["status"] == "cancelled" and "billed" not in (cancelled["error"] or "")
    assert len(fake.requests) == 1
    statuses = [(r["status"], r["cost_usd"]) for r in server.studio.ledger.rows()]
    assert statuses[1] == ("cancelled", 0.0)


async def test_a_stall_past_the_timeout_is_retried_once(workspace_dir: Path) -> None:
    with FakeOpenAIImages() as fake:
        fake.script.extend([Scripted.stall(30), Scripted.stall(30)])
        server = build_server(_settings(workspace_dir, fake, timeout_s=0.5))
        async with Client(server) as client:
            text = error_text(await client.call_tool("generate_image", {"prompt": "x"}))
    assert "did not answer in time" in text and len(fake.requests) == 2
    rows = server.studio.ledger.rows()
    assert [r["status"] for r in rows] == ["error", "error"]
    assert all(r["billed"] is None and r["counted_usd"] > 0 for r in rows)  # unknown: still counted


def _server_env(workspace: Path, fake: FakeOpenAIImages) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "OPENAI_"))}
    env.update(EASEL_WORKSPACE=str(workspace), OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake.base_url)
    return env


def _start_stdio_call(env: dict[str, str], stderr: Path | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "easel_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr is None else stderr.open("wb"),
        env=env,
    )
    assert proc.stdin is not None
    for message in (
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "generate_image", "arguments": {"prompt": "sigterm", "quality": "low"}},
        },
    ):
        proc.stdin.write(json.dumps(message).encode() + b"\n")
    proc.stdin.flush()
    return proc


def _wait_for(predicate: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


async def test_sigterm_during_a_call_finishes_writing_before_exit(workspace_dir: Path, tmp_path: Path) -> None:
    stderr = tmp_path / "stderr.log"
    with FakeOpenAIImages() as fake:
        fake.hold()
        proc = _start_stdio_call(_server_env(workspace_dir, fake), stderr)
        fake.wait_received(1)
        proc.send_signal(signal.SIGTERM)
        _wait_for(lambda: b"finishing running calls" in stderr.read_bytes())
        fake.release()  # the upstream answers only after SIGTERM: the call finishes during the grace period
        proc.communicate(timeout=60)
    assert proc.returncode is not None
    [image] = _images(workspace_dir)
    assert image.with_suffix(".json").is_file()
    async with Client(build_server(_settings(workspace_dir, fake))) as client:
        usage = json.loads((await client.read_resource("easel://usage")).contents[0].text)
    assert usage["today"]["calls"] == 1 and usage["today"]["open"] == 0
    assert usage["today"]["cost_usd"] == pytest.approx(fake.charged_usd)


async def test_killed_after_the_upstream_answered_nothing_is_lost_on_restart(workspace_dir: Path) -> None:
    with FakeOpenAIImages(latency_s=0.5) as fake:
        proc = _start_stdio_call(_server_env(workspace_dir, fake))
        _wait_for(lambda: any(p.with_suffix(".json").exists() for p in _images(workspace_dir)))
        proc.kill()
        proc.communicate(timeout=30)
        server = build_server(_settings(workspace_dir, fake))
        async with Client(server):  # start-up recovers what the dead process left open
            rows = server.studio.ledger.rows()
    [image] = _images(workspace_dir)
    [row] = rows
    assert row["status"] == "ok" and row["outputs"] == [image.relative_to(workspace_dir.resolve()).as_posix()]
    assert row["cost_usd"] == pytest.approx(fake.charged_usd)


async def test_concurrency_limit_queues_calls(workspace_dir: Path) -> None:
    with FakeOpenAIImages() as fake:
        fake.hold()
        async with Client(build_server(_settings(workspace_dir, fake, max_concurrency=2))) as client:
            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(client.call_tool, "generate_image", {"prompt": f"p{i}", "quality": "low"})
                await fake.received(2)  # two calls reached the upstream; the other four wait their turn
                fake.release()
    assert len(_images(workspace_dir)) == 6
    assert fake.max_in_flight == 2  # never more than the limit upstream at once, and the limit was used


async def test_partial_images_are_streamed_saved_and_reported(workspace_dir: Path) -> None:
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    with FakeOpenAIImages() as fake:
        async with Client(build_server(_settings(workspace_dir, fake))) as client:
            data = structured(
                await client.call_tool(
                    "generate_image",
                    {"prompt": "x", "quality": "low", "size": "square", "partial_images": 2},
                    progress_callback=on_progress,
                )
            )
    assert fake.violations == [] and fake.requests[0].json["stream"] is True
    assert fake.requests[0].json["partial_images"] == 2
    assert len(data["partials"]) == 2 and all((workspace_dir / p).is_file() for p in data["partials"])
    assert all("/partials/" in p for p in data["partials"])
    assert any("partial image 1 saved" in m for m in messages)
    assert data["usage"]["output_tokens"] == 272 + 2 * 100  # partials cost 100 tokens each
    assert data["cost_usd"] == pytest.approx(fake.charged_usd)
    assert data["estimated_cost_usd"] == pytest.approx(data["cost_usd"], rel=0.01)


async def test_offline_partials(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        data = structured(await client.call_tool("generate_image", {"prompt": "x", "partial_images": 3}))
    assert len(data["partials"]) == 3
