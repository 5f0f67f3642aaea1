"""The task store: unguessable ids, the status from the job, forgetting expired and surplus tasks."""

from __future__ import annotations

import pytest

from easel_mcp.errors import EaselError
from easel_mcp.service.jobs import Job
from easel_mcp.settings import Settings
from easel_mcp.tasks import store as tasks_store
from easel_mcp.tasks.store import TTL_MS, TaskStore

pytestmark = pytest.mark.anyio


def _job(job_id: str = "abc123") -> Job:
    return Job(job_id, "generate", "gpt-image-2", "offline", 0.04)


async def test_ids_are_long_random_tokens_and_the_status_follows_the_job(offline_settings: Settings) -> None:
    store = TaskStore(offline_settings)
    job = _job()
    record = store.create("generate_image", job, "auto")
    other = store.create("generate_image", _job("def456"), "auto")
    assert len(record.task_id) >= 32 and record.task_id != other.task_id and job.id not in record.task_id
    job.stage = "waiting for gpt-image-2"
    assert record.state() == ("working", "waiting for gpt-image-2 (job abc123)")
    job.status, job.error = "cancelled", EaselError("job abc123 was cancelled")
    job.done.set()
    assert record.state() == ("cancelled", "job abc123 was cancelled")
    failed = _job("f00")
    failed.status, failed.error = "failed", EaselError("the model refused")
    failed.done.set()
    assert store.create("generate_image", failed, "auto").state() == ("completed", None)  # a tool error


async def test_a_finished_task_is_forgotten_after_its_ttl_a_running_one_is_not(
    offline_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TaskStore(offline_settings)
    finished, running = _job("a"), _job("b")
    finished.done.set()
    done_task = store.create("generate_image", finished, "auto")
    running_task = store.create("generate_image", running, "auto")
    later = done_task.created + TTL_MS / 1000 + 1
    monkeypatch.setattr(tasks_store.time, "time", lambda: later)
    assert store.get(done_task.task_id) is None
    assert store.get(running_task.task_id) is running_task


async def test_past_the_cap_the_oldest_finished_tasks_go_first(
    offline_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks_store, "MAX_TASKS", 3)
    store = TaskStore(offline_settings)
    running = store.create("generate_image", _job("r"), "auto")
    finished = []
    for i in range(3):
        job = _job(f"d{i}")
        job.done.set()
        finished.append(store.create("generate_image", job, "auto"))
    for _ in range(2):  # reading does not forget anything more
        assert store.get(running.task_id) is running
        assert store.get(finished[0].task_id) is None
        assert store.get(finished[1].task_id) is finished[1]
        assert store.get(finished[2].task_id) is finished[2]


async def test_last_updated_moves_when_the_status_or_message_changes(
    offline_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr(tasks_store.time, "time", lambda: clock[0])
    job = _job()
    record = TaskStore(offline_settings).create("generate_image", job, "auto")
    clock[0] += 5  # the first read comes later; nothing changed
    first = record.fields()
    assert first["last_updated_at"] == first["created_at"] == "1970-01-12T13:46:40.000Z"
    job.stage = "writing"
    clock[0] += 5
    assert record.fields()["last_updated_at"] == "1970-01-12T13:46:50.000Z"
    clock[0] += 5
    assert record.fields()["last_updated_at"] == "1970-01-12T13:46:50.000Z"
