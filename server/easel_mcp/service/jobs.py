"""Jobs: every call runs as one, in the engine's task group; tools follow it and `get_job` finds it again.

`JobBook` is the default job store: the jobs of this process in memory (bounded), and those of earlier
runs or other replicas through a `JobArchive` (the ledger and the sidecars)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import anyio
import anyio.to_thread

if TYPE_CHECKING:
    from easel_mcp.errors import EaselError
    from easel_mcp.progress import Progress
    from easel_mcp.schemas.jobs import JobView
    from easel_mcp.schemas.results import ImageResult
    from easel_mcp.service.ports import JobArchive

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
FOLLOW_BEAT_S = 4.0
MAX_JOBS = 1000


@dataclass(eq=False)
class Job:
    """One call, running in the background; tools follow it, `get_job` finds it again."""

    id: str
    tool: str
    model: str
    provider: str
    estimated_usd: float | None
    user: str | None = None  # the subject of the caller's OAuth token; None without OAuth
    started: float = field(default_factory=time.monotonic)
    status: JobStatus = "queued"
    stage: str = "queued"
    sent: bool = False
    result: ImageResult | None = None
    error: EaselError | None = None
    done: anyio.Event = field(default_factory=anyio.Event)
    # Shielded: a client that goes away, or the server's own shut-down, does not cancel a job;
    # only cancel_job (or the end of the shut-down grace period) does, through this scope.
    scope: anyio.CancelScope = field(default_factory=lambda: anyio.CancelScope(shield=True))
    _changed: anyio.Event = field(default_factory=anyio.Event)

    async def report_progress(self, progress: float, total: float | None, message: str | None) -> None:
        """Progress sink: the engine reports stages here; followers relay them to their clients."""
        self.stage = message or self.stage
        self._changed.set()
        self._changed = anyio.Event()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    async def follow(self, progress: Progress, timeout_s: float | None = None) -> bool:
        """Relay this job's stage to `progress` at least every few seconds until it is done (True) or
        `timeout_s` passes (False). Cancelling the follower does not cancel the job."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self.done.is_set():
            wait = FOLLOW_BEAT_S if deadline is None else min(FOLLOW_BEAT_S, deadline - time.monotonic())
            if wait <= 0:
                return False
            changed = self._changed
            with anyio.move_on_after(wait):
                await changed.wait()
            if not self.done.is_set():
                await progress.report(f"{self.stage} ({self.elapsed_s:.0f} s), job {self.id}")
        return True

    def view(self) -> JobView:
        """The job as `get_job` shows it."""
        from easel_mcp.schemas.jobs import JobView

        return JobView(
            job_id=self.id,
            status=self.status,
            stage=self.stage,
            elapsed_s=round(self.elapsed_s, 1),
            tool=self.tool,
            model=self.model,
            provider=self.provider,
            estimated_cost_usd=self.estimated_usd,
            result=self.result,
            error=str(self.error) if self.error else None,
        )


class JobBook:
    """The jobs of this process, forgetting the oldest finished ones past MAX_JOBS (the ledger keeps them)."""

    def __init__(self, archive: JobArchive | None = None) -> None:
        self._jobs: dict[str, Job] = {}
        self._archive = archive

    def add(self, job: Job) -> None:
        self._jobs[job.id] = job
        if len(self._jobs) > MAX_JOBS:
            for old in [j for j in self._jobs.values() if j.done.is_set()][: len(self._jobs) - MAX_JOBS]:
                del self._jobs[old.id]

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def values(self) -> list[Job]:
        return list(self._jobs.values())

    async def find(self, job_id: str, user: str | None) -> JobView | None:
        archive = self._archive
        if archive is None:
            return None
        return await anyio.to_thread.run_sync(archive.find, job_id, user)
