"""Tasks on a shared ledger (EASEL_DATABASE_URL): a task created on one replica is answered by any other, which
reads the job's state from the ledger and the workspace (the job runs on the replica that created it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from easel_mcp.identity import current_user
from easel_mcp.tasks.store import TTL_MS, TaskRecord

if TYPE_CHECKING:
    from easel_mcp.schemas.jobs import JobView
    from easel_mcp.schemas.results import ImageResult
    from easel_mcp.studio import Studio


@dataclass
class _Done:
    value: bool

    def is_set(self) -> bool:
        return self.value


@dataclass(eq=False)
class JobSnapshot:
    """What a task needs of a job (as `engine.Job` has it), read from the ledger for a job another replica runs."""

    id: str
    status: str
    stage: str
    result: ImageResult | None
    error: str | None
    done: _Done = field(default_factory=lambda: _Done(False))
    user: str | None = None  # who started it (as `Job.user`): its images are in that user's workspace

    @classmethod
    def of(cls, view: JobView, user: str | None = None) -> JobSnapshot:
        finished = view.status in ("done", "failed", "cancelled")
        return cls(view.job_id, view.status, view.stage, view.result, view.error, _Done(finished), user)


def _ledger(studio: Studio) -> Any | None:
    """The shared ledger, or None when the ledger is this workspace's own (SQLite)."""
    return studio.shared_ledger


async def remember(studio: Studio, record: TaskRecord) -> None:
    """Write a new task where every replica finds it."""
    ledger = _ledger(studio)
    if ledger is not None:
        user = current_user()
        await anyio.to_thread.run_sync(
            lambda: ledger.save_task(record.task_id, record.job.id, record.tool, record.preview, user)
        )


async def recall(studio: Studio, task_id: str) -> TaskRecord | None:
    """A task another replica created (for this caller), with its job's state as of now; None elsewhere."""
    ledger = _ledger(studio)
    if ledger is None:
        return None
    row = await anyio.to_thread.run_sync(ledger.find_task, task_id, TTL_MS / 1000)
    if row is None or row["user_id"] != current_user():
        return None
    view = await studio.find_job(row["job_id"])
    if view is None:
        return None
    snapshot: Any = JobSnapshot.of(view, row["user_id"])
    return TaskRecord(task_id, row["tool"], snapshot, row["preview"], row["created_at"].timestamp())
