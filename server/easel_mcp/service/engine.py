"""Running calls: budgets and the ledger, retries, a concurrency limit, and background jobs.

Every call runs as a job in the engine's task group (given to it by `start`), not in the MCP request's
own scope: a client that cancels or disconnects stops waiting, but a request that reached the model goes
on until its answer is written and the ledger settled. Every attempt is a ledger row, reserved against
the budgets before it is sent and settled with the actual cost afterwards. The engine talks only to its
ports (providers, image store, index, ledger, jobs); it never sees the server or the tools.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import anyio.to_thread

from easel_mcp.checked import verify_held
from easel_mcp.errors import BudgetExceeded, EaselError, ProviderError
from easel_mcp.imaging.errors import ImagingError
from easel_mcp.progress import Progress
from easel_mcp.providers import bills
from easel_mcp.providers.base import EditRequest, GenerateRequest, ProviderResult
from easel_mcp.retry import RetryPolicy, billed, next_delay
from easel_mcp.service.jobs import Job, JobBook
from easel_mcp.service.results import billed_cost, cheaper_options, dry_run_result, running_result
from easel_mcp.service.settling import Settler, save_answer

if TYPE_CHECKING:
    from easel_mcp.budgets import Budgets
    from easel_mcp.ledger import Attempt
    from easel_mcp.schemas.results import ImageResult
    from easel_mcp.service.call import Call
    from easel_mcp.service.ports import ImageIndex, JobStore, OutputStore, Providers
    from easel_mcp.storage.ports import LedgerPort

log = logging.getLogger("easel_mcp")


class Engine:
    def __init__(
        self,
        *,
        providers: Providers,
        store: OutputStore,
        index: ImageIndex,
        ledger: LedgerPort,
        budgets: Budgets,
        jobs: JobStore | None = None,
        max_concurrency: int = 4,
        policy: RetryPolicy | None = None,
        shutdown_grace_s: float = 30.0,
        sync_timeout_s: float | None = None,
    ) -> None:
        self.providers = providers
        self.store = store
        self.index = index
        self.ledger = ledger
        self.budgets = budgets
        self.jobs: JobStore = jobs if jobs is not None else JobBook()
        self.policy = policy or RetryPolicy()
        self.shutdown_grace_s = shutdown_grace_s
        self.sync_timeout_s = sync_timeout_s
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._closing = False
        self._tg: anyio.abc.TaskGroup | None = None
        self.settler = Settler(ledger)

    def start(self, task_group: anyio.abc.TaskGroup | None) -> None:
        """Run background jobs in `task_group` (None: each call runs in its caller's scope)."""
        self._tg = task_group

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
    async def run(self, call: Call, *, progress: Progress, wait: bool = True, dry_run: bool = False) -> ImageResult:
        """The service's entry for one call: a dry run prices it (nothing sent, nothing written), else
        `execute` runs it."""
        if dry_run:
            call.close()
            return dry_run_result(call, await self.budget_left(call.user))
        return await self.execute(call, progress=progress, wait=wait)

    async def execute(self, call: Call, *, progress: Progress, wait: bool = True) -> ImageResult:
        """Reserve the budget, start the job, and follow it. A call still running when the caller stops
        waiting (wait=False, or the sync timeout) comes back as status 'running' with its job id."""
        provider = self.providers.provider(call.provider)
        job = Job(secrets.token_hex(6), call.operation, call.model, provider.name, call.estimate.total_usd, call.user)
        call = replace(call, job_id=job.id)
        try:
            first = await self._begin(job, call)
        except BaseException:
            call.close()
            raise
        self.jobs.add(job)
        if self._tg is None:  # no background task group (library use): run in the caller's scope
            await self._run(job, call, first)
        else:
            self._tg.start_soon(self._run, job, call, first)
        if not wait or not await job.follow(progress, self.sync_timeout_s):
            return running_result(call, job)
        if job.error is not None:
            raise job.error
        if job.result is None:
            raise RuntimeError(f"job {job.id} ended without a result ({job.status})")
        return job.result

    def cancel(self, job: Job) -> None:
        job.scope.cancel()

    async def budget_left(self, user: str | None) -> dict[str, float | None]:
        """What the configured spending limits leave `user` (per call, today and this month, UTC)."""
        if not self.budgets.any_limit:
            return {"per_call": None, "today": None, "this_month": None}
        return await anyio.to_thread.run_sync(lambda: self.ledger.budget_left(self.budgets, user=user))

    # ------------------------------------------------------------- internals
    async def _begin(self, job: Job, call: Call) -> Attempt:
        offline = not bills(job.provider)
        o = call.options
        params = {
            "prompt": call.prompt[:2000],
            "model": o.model,
            "size": o.size,
            "quality": o.quality,
            "n": o.n,
            "background": o.background,
            "output_format": o.output_format,
            "output_compression": o.output_compression,
            "moderation": o.moderation,
            "input_fidelity": o.input_fidelity,
            "inputs": [i.sha256 for i in call.inputs],
            "geometry": call.geometry,
        }
        estimate = call.estimate
        try:
            return await anyio.to_thread.run_sync(
                lambda: self.ledger.begin(
                    tool=call.operation,
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
            e.message = f"{e.message} {cheaper_options(call, e.left_usd)}".strip()
            raise

    async def _run(self, job: Job, call: Call, attempt: Attempt) -> None:
        progress = Progress(job)
        try:
            with job.scope:
                job.result = await self._attempts(job, call, attempt, progress)
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
            call.close()
            job.done.set()
            await job.report_progress(0, None, job.status)

    async def _attempts(self, job: Job, call: Call, attempt: Attempt, progress: Progress) -> ImageResult:
        provider = self.providers.provider(call.provider)
        request = call.request
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
                await progress.report(f"sent to {provider.name} ({call.model})")
                started = time.monotonic()

                partials: list[str] = []

                async def on_partial(index: int, data: bytes, partials: list[str] = partials) -> None:
                    try:  # a draft that cannot be saved must not cost the paid final image
                        path = await self.store.write_partial(call, index, data)
                    except (ImagingError, OSError) as e:
                        log.warning("partial image %d of job %s not saved: %s", index + 1, job.id, e)
                        await progress.report(f"partial image {index + 1} not saved: {str(e)[:120]}")
                        return
                    partials.append(path)
                    await progress.report(f"partial image {index + 1} saved: {path}")

                streaming = replace(request, on_partial=on_partial) if request.partial_images else request

                async def send(streaming: GenerateRequest | EditRequest = streaming) -> ProviderResult:
                    if isinstance(streaming, GenerateRequest):
                        return await provider.generate(streaming)
                    return await provider.edit(streaming)

                try:
                    await progress.report(f"waiting for {call.model}")
                    try:
                        result = await send()
                    finally:
                        self._limiter.release()
                        released = True
                except ProviderError as e:
                    cost = billed_cost(call, e)
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
                    with anyio.CancelScope(shield=True):
                        outcome = await save_answer(
                            self.store,
                            self.index,
                            self.settler,
                            attempt,
                            call,
                            result,
                            started,
                            provider.name,
                            progress,
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
            attempt = await self._begin(job, call)
