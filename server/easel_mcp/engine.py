"""Running upstream calls: budgets and the ledger, retries, a concurrency limit, and background jobs.

Every call runs as a job in the engine's task group, not in the MCP request's own scope: a client
that cancels or disconnects stops waiting, but a request that reached the model goes on until its
answer is written to the workspace and the ledger. Every attempt is a ledger row, reserved against
the budgets before it is sent and settled with the actual cost afterwards.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import anyio
import anyio.abc
import anyio.to_thread

from easel_mcp.checked import close_held, verify_held
from easel_mcp.errors import BudgetExceeded, EaselError, ProviderError
from easel_mcp.identity import current_user
from easel_mcp.imaging.errors import ImagingError
from easel_mcp.progress import Progress
from easel_mcp.providers import bills
from easel_mcp.providers.base import EditRequest, GenerateRequest, ProviderResult
from easel_mcp.retry import RetryPolicy, billed, next_delay
from easel_mcp.settling import Settler, save_answer

if TYPE_CHECKING:
    from easel_mcp.budgets import Budgets
    from easel_mcp.catalog.estimate import Estimate
    from easel_mcp.ledger import Attempt
    from easel_mcp.schemas.results import ImageResult
    from easel_mcp.storage.ports import LedgerPort
    from easel_mcp.studio import CallRecord, Studio

log = logging.getLogger("easel_mcp")
JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
Finish = Callable[[list[bytes]], list[bytes]]
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
        """Progress sink: the studio reports stages here; followers relay them to their clients."""
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


class Engine:
    def __init__(
        self,
        studio: Studio,
        ledger: LedgerPort,
        budgets: Budgets,
        *,
        max_concurrency: int = 4,
        policy: RetryPolicy | None = None,
        shutdown_grace_s: float = 30.0,
    ) -> None:
        self.studio = studio
        self.ledger = ledger
        self.budgets = budgets
        self.policy = policy or RetryPolicy()
        self.shutdown_grace_s = shutdown_grace_s
        self.jobs: dict[str, Job] = {}
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._closing = False
        self.settler = Settler(ledger)

    @property
    def _tg(self) -> anyio.abc.TaskGroup | None:
        return self.studio.task_group

    async def shutdown(self) -> None:
        """Stop taking calls; let those already sent finish and be written (up to the grace period)."""
        self._closing = True
        pending = [j for j in self.jobs.values() if not j.done.is_set()]
        if pending:
            log.info("shutting down: waiting up to %.0f s for %d running call(s)", self.shutdown_grace_s, len(pending))
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(self.shutdown_grace_s):
                for job in pending:
                    await job.done.wait()
            for job in pending:
                job.scope.cancel()
            for job in pending:  # their ledger rows are settled in shielded scopes as they unwind
                with anyio.move_on_after(5):
                    await job.done.wait()
            await self.settler.flush()  # outcomes the ledger could not take earlier

    # ----------------------------------------------------------------- entry
    async def execute(
        self,
        record: CallRecord,
        request: GenerateRequest | EditRequest,
        estimate: Estimate,
        *,
        input_sizes: Sequence[tuple[int, int]],
        finish: Finish | None,
        progress: Progress,
        wait: bool = True,
        sync_timeout_s: float | None = None,
    ) -> ImageResult | Job:
        """Reserve the budget, start the job, and follow it (or hand back the running job)."""
        provider = self.studio.provider(record.provider)
        job = Job(
            secrets.token_hex(6),
            record.operation,
            record.options.model,
            provider.name,
            estimate.total_usd,
            user=current_user(),
        )
        try:
            first = await self._begin(job, record, estimate, input_sizes)
        except BaseException:
            _close_inputs(record, request)
            raise
        self._remember(job)
        if self._tg is None:  # no background task group (library use): run in the caller's scope
            await self._run(job, record, request, estimate, input_sizes, finish, first)
        else:
            self._tg.start_soon(self._run, job, record, request, estimate, input_sizes, finish, first)
        if not wait or not await job.follow(progress, sync_timeout_s):
            return job
        if job.error is not None:
            raise job.error
        if job.result is None:
            raise RuntimeError(f"job {job.id} ended without a result ({job.status})")
        return job.result

    def cancel(self, job: Job) -> None:
        job.scope.cancel()

    def _remember(self, job: Job) -> None:
        """Keep jobs for get_job; forget the oldest finished ones past MAX_JOBS (the ledger still has them)."""
        self.jobs[job.id] = job
        if len(self.jobs) > MAX_JOBS:
            for old in [j for j in self.jobs.values() if j.done.is_set()][: len(self.jobs) - MAX_JOBS]:
                del self.jobs[old.id]

    # ------------------------------------------------------------- internals
    async def _begin(
        self, job: Job, record: CallRecord, estimate: Estimate, input_sizes: Sequence[tuple[int, int]]
    ) -> Attempt:
        offline = not bills(job.provider)
        o = record.options
        params = {
            "prompt": record.prompt[:2000],
            "model": o.model,
            "size": o.size,
            "quality": o.quality,
            "n": o.n,
            "background": o.background,
            "output_format": o.output_format,
            "output_compression": o.output_compression,
            "moderation": o.moderation,
            "input_fidelity": o.input_fidelity,
            "inputs": [i.sha256 for i in record.inputs],
            "geometry": record.geometry,
        }
        try:
            return await anyio.to_thread.run_sync(
                lambda: self.ledger.begin(
                    tool=record.operation,
                    provider=job.provider,
                    model=o.model,
                    params=params,
                    estimated_usd=0.0 if offline else estimate.total_usd,
                    reserve_usd=0.0 if offline else estimate.upper_usd,
                    budgets=self.budgets,
                    job_id=job.id,
                    user=job.user,
                )
            )
        except BudgetExceeded as e:
            e.message = f"{e.message} {self.studio.cheaper_options(record, input_sizes, e.left_usd)}".strip()
            raise

    async def _run(
        self,
        job: Job,
        record: CallRecord,
        request: GenerateRequest | EditRequest,
        estimate: Estimate,
        input_sizes: Sequence[tuple[int, int]],
        finish: Finish | None,
        attempt: Attempt,
    ) -> None:
        progress = Progress(job)
        try:
            with job.scope:
                job.result = await self._attempts(
                    job, record, request, estimate, input_sizes, finish, attempt, progress
                )
                job.status = "done"
            if job.result is None:
                job.status = "cancelled"
                job.error = EaselError(
                    f"job {job.id} was cancelled"
                    + (" after the request was sent; it may still be billed" if job.sent else "")
                )
        except EaselError as e:
            job.status, job.error = "failed", e
        except Exception:
            log.exception("job %s failed unexpectedly", job.id)
            job.status = "failed"
            job.error = EaselError("Easel failed unexpectedly while running this call; the server log has details")
        finally:
            _close_inputs(record, request)
            job.done.set()
            await job.report_progress(0, None, job.status)

    async def _attempts(
        self,
        job: Job,
        record: CallRecord,
        request: GenerateRequest | EditRequest,
        estimate: Estimate,
        input_sizes: Sequence[tuple[int, int]],
        finish: Finish | None,
        attempt: Attempt,
        progress: Progress,
    ) -> ImageResult:
        provider = self.studio.provider(record.provider)
        number = 1
        while True:
            try:
                if self._limiter.available_tokens == 0:
                    await progress.report(f"queued: {self._limiter.borrowed_tokens} calls running")
                await self._limiter.acquire()
            except BaseException:  # cancelled while queued: never sent, never billed
                with anyio.CancelScope(shield=True):
                    await self.settler.settle(attempt, "cancelled", billed=False, elapsed=0.0)
                raise
            released = False  # the limit bounds calls to the upstream: released as soon as it answered
            try:
                if self._closing:
                    await self.settler.settle(attempt, "cancelled", billed=False, elapsed=0.0)
                    raise EaselError("the server is shutting down; the call was not sent (nothing was billed)")
                if isinstance(request, EditRequest):  # the held inputs are still what was checked
                    try:
                        await anyio.to_thread.run_sync(verify_held, request.images)
                    except EaselError:
                        await self.settler.settle(attempt, "cancelled", billed=False, elapsed=0.0)
                        raise
                job.status = "running"
                try:
                    await anyio.to_thread.run_sync(self.ledger.mark_sent, attempt)
                except EaselError:  # the ledger cannot record it (a full disk, a database away): nothing is sent
                    await self.settler.settle(attempt, "cancelled", billed=False, elapsed=0.0)
                    raise
                job.sent = True
                await progress.report(f"sent to {provider.name} ({record.options.model})")
                started = time.monotonic()

                partials: list[str] = []

                async def on_partial(index: int, data: bytes, partials: list[str] = partials) -> None:
                    try:  # a draft that cannot be saved must not cost the paid final image
                        path = await anyio.to_thread.run_sync(self.studio.write_partial, record, index, data)
                    except (ImagingError, OSError) as e:
                        log.warning("partial image %d of job %s not saved: %s", index + 1, job.id, e)
                        await progress.report(f"partial image {index + 1} not saved: {str(e)[:120]}")
                        return
                    partials.append(path)
                    await progress.report(f"partial image {index + 1} saved: {path}")

                streaming = replace(request, on_partial=on_partial) if request.partial_images else request

                async def call(streaming: GenerateRequest | EditRequest = streaming) -> ProviderResult:
                    if isinstance(streaming, GenerateRequest):
                        return await provider.generate(streaming)
                    return await provider.edit(streaming)

                try:
                    await progress.report(f"waiting for {record.options.model}")
                    try:
                        result = await call()
                    finally:
                        self._limiter.release()
                        released = True
                except ProviderError as e:
                    cost = _billed_cost(record, e)
                    with anyio.CancelScope(shield=True):
                        await self.settler.settle(
                            attempt,
                            "error",
                            billed=billed(e),
                            error=e,
                            elapsed=time.monotonic() - started,
                            cost_usd=cost,
                        )
                    delay = next_delay(self.policy, e, number)
                    if delay is None:
                        raise
                    failure = e.message
                except BaseException:
                    with anyio.CancelScope(shield=True):
                        await self.settler.settle(attempt, "cancelled", billed=None, elapsed=time.monotonic() - started)
                    raise
                else:
                    record.extra["job_id"] = job.id
                    with anyio.CancelScope(shield=True):
                        outcome = await save_answer(
                            self.studio, self.settler, attempt, record, result, started, estimate, finish, progress
                        )
                    outcome.attempts = number
                    outcome.job_id = job.id
                    outcome.partials = partials
                    return outcome
            finally:
                if not released:
                    self._limiter.release()
            await progress.report(f"retrying in {delay:.0f} s after: {failure[:80]}")
            await anyio.sleep(delay)
            number += 1
            attempt = await self._begin(job, record, estimate, input_sizes)


def _close_inputs(record: CallRecord, request: GenerateRequest | EditRequest) -> None:
    """The call is over: let go of the input files it held open since they were checked."""
    close_held(i.image for i in record.inputs)
    if isinstance(request, EditRequest):
        close_held(request.images)


def _billed_cost(record: CallRecord, error: ProviderError) -> float | None:
    """What a billed answer that could not be used cost, from its usage; the error says it too."""
    from easel_mcp.catalog.prices import cost_from_usage

    if not error.billed or error.usage is None:
        return None
    cost = cost_from_usage(record.options.model, error.usage)[0]
    if cost is not None:
        error.message = f"{error.message}; the call was billed ${cost:.4f}, and calling again is billed again"
    return cost
