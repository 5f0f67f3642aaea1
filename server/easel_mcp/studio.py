"""The service behind the image tools: inputs in, provider call, files and sidecars out.

No MCP here: tools call these methods and shape the outcome for the agent. File and Pillow
work runs in worker threads; the provider call is async and cancellable, but once an answer
has arrived its writing is shielded from cancellation, so a paid image is never lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.to_thread

from easel_mcp.errors import InvalidRequest
from easel_mcp.identity import current_user
from easel_mcp.progress import Progress
from easel_mcp.providers import configured_providers, create_provider, resolved_provider
from easel_mcp.settings import Settings
from easel_mcp.workspace import Workspace

# Imported where used (start-up stays lean: none of this is needed to answer tools/list).
if TYPE_CHECKING:
    import anyio.abc

    from easel_mcp.budgets import Budgets
    from easel_mcp.catalog.estimate import Estimate
    from easel_mcp.catalog.validate import Options
    from easel_mcp.engine import Engine, Job
    from easel_mcp.index import ImageIndex
    from easel_mcp.inputs import InputLoader, LoadedInput
    from easel_mcp.providers.base import EditRequest, GenerateRequest, ImageProvider, ProviderResult
    from easel_mcp.schemas.jobs import JobView
    from easel_mcp.schemas.results import ImageOut, ImageResult
    from easel_mcp.storage.ports import LedgerPort

log = logging.getLogger("easel_mcp")


@dataclass(slots=True)
class CallRecord:
    """Everything about one call that goes into the sidecars and the result."""

    operation: Literal["generate", "edit", "inpaint", "outpaint"]
    prompt: str
    options: Options
    provider: str
    label: str
    inputs: Sequence[LoadedInput] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # mask, geometry ... for the sidecar
    geometry: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)


class Studio:
    """Holds the workspace and the providers for the server's lifetime."""

    def __init__(self, settings: Settings, workspace: Workspace) -> None:
        from easel_mcp.inputs import InputLoader

        self.settings = settings
        self.root_workspace = workspace
        self.default_provider = resolved_provider(settings)
        self.task_group: anyio.abc.TaskGroup | None = None  # where background jobs run (see running())
        self._providers: dict[str, ImageProvider] = {}
        self._ledger: LedgerPort | None = None
        self._engine: Engine | None = None
        # Per user (the caller's OAuth subject; None without OAuth): a workspace, an input loader, an index.
        self._areas_lock = threading.Lock()
        self._workspaces: dict[str | None, Workspace] = {None: workspace}
        self._inputs: dict[str | None, InputLoader] = {None: InputLoader(settings, workspace)}
        self._indexes: dict[str | None, ImageIndex] = {}

    # Each user sees their own workspace: every read, write, id and path of a call resolves inside it.
    @property
    def workspace(self) -> Workspace:
        """The caller's workspace: the configured one, or with OAuth the user's own folder inside it."""
        return self._area(current_user())[0]

    @property
    def inputs(self) -> InputLoader:
        return self._area(current_user())[1]

    def _area(self, user: str | None) -> tuple[Workspace, InputLoader]:
        from easel_mcp.inputs import InputLoader

        with self._areas_lock:
            if user not in self._workspaces:
                workspace = self.root_workspace.for_user(user)  # type: ignore[arg-type]  # None is always there
                self._workspaces[user] = workspace
                self._inputs[user] = InputLoader(self.settings, workspace)
            return self._workspaces[user], self._inputs[user]

    # The ledger, the budgets and the engine are built on first use: none is needed to start.
    @property
    def ledger(self) -> LedgerPort:
        if self._ledger is None:
            from easel_mcp.storage.ports import open_ledger

            self._ledger = open_ledger(self.settings, self.root_workspace.state_dir)  # connected on first use
        return self._ledger

    @property
    def budgets(self) -> Budgets:
        from easel_mcp.budgets import Budgets

        s = self.settings
        return Budgets(
            s.max_cost_per_call_usd,
            s.daily_budget_usd,
            s.monthly_budget_usd,
            s.user_daily_budget_usd,
            s.user_monthly_budget_usd,
        )

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from easel_mcp.engine import Engine
            from easel_mcp.retry import RetryPolicy

            s = self.settings
            policy = RetryPolicy(
                s.retry_max_attempts, s.retry_base_delay_s, max(s.retry_base_delay_s, 20.0), s.retry_after_cap_s
            )
            self._engine = Engine(
                self,
                self.ledger,
                self.budgets,
                max_concurrency=s.max_concurrency,
                policy=policy,
                shutdown_grace_s=s.shutdown_grace_s,
            )
        return self._engine

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Studio]:
        """The server's lifetime: crash recovery, a task group for background jobs, and on exit the
        engine's shut-down (calls already sent finish and are written, up to the grace period)."""
        try:  # before any call, so get_job finds recovered jobs; never a reason not to start
            await anyio.to_thread.run_sync(self.recover)
        except Exception as e:
            log.error(
                "start-up recovery stopped (%s: %s); calls a crashed run left open stay counted", type(e).__name__, e
            )
        async with anyio.create_task_group() as tg:
            self.task_group = tg
            if self.settings.database_url is not None:
                from easel_mcp.storage.postgres_replicas import keep_alive

                tg.start_soon(
                    keep_alive,
                    self.ledger,
                    self.settings.replica_heartbeat_s,
                    self._running_jobs,
                    self._cancel_job,
                    self._flush_settles,
                )
            try:
                yield self
            finally:
                self.task_group = None
                if self._engine is not None:
                    await self._engine.shutdown()
                tg.cancel_scope.cancel()

    async def _flush_settles(self) -> None:
        if self._engine is not None and self._engine.settler.pending:
            await self._engine.settler.flush()

    def _running_jobs(self) -> list[str]:
        return [] if self._engine is None else [j.id for j in self._engine.jobs.values() if not j.done.is_set()]

    def _cancel_job(self, job_id: str) -> None:
        job = None if self._engine is None else self._engine.jobs.get(job_id)
        if job is not None:
            self.engine.cancel(job)

    async def cancel_elsewhere(self, job_id: str, wait_s: float = 10.0) -> JobView | None:
        """cancel_job for a job this process does not run: on a shared ledger, ask the replica that runs it and
        wait (up to `wait_s`) for it to settle; None when no ledger records the job."""
        from easel_mcp.storage.postgres_ledger import PostgresLedger

        view = await anyio.to_thread.run_sync(self.find_job, job_id)
        if view is None or view.status != "running" or not isinstance(self.ledger, PostgresLedger):
            return view
        await anyio.to_thread.run_sync(self.ledger.request_cancel, job_id)
        with anyio.move_on_after(wait_s):
            while view is not None and view.status == "running":
                await anyio.sleep(0.1)
                view = await anyio.to_thread.run_sync(self.find_job, job_id)
        return view

    @property
    def index(self) -> ImageIndex:
        """The workspace's image index (built on first use; call from a worker thread)."""
        from easel_mcp.index import ImageIndex

        user = current_user()
        workspace = self._area(user)[0]
        with self._areas_lock:
            if user not in self._indexes:
                self._indexes[user] = ImageIndex(workspace)
            return self._indexes[user]

    def configured_providers(self) -> list[str]:
        """The providers whose credentials are present, in the order `auto` tries them."""
        return configured_providers(self.settings)

    def pick(self, provider: str | None, model: str | None) -> tuple[str, str]:
        """The provider and model a call uses: the per-call choice (among the configured providers) or the
        server's; without a model, the configured one if that provider serves it, else its own default."""
        from easel_mcp.providers import model_for_provider

        name = (provider or self.default_provider).strip().lower()
        configured = configured_providers(self.settings)
        if name not in configured:
            raise InvalidRequest(
                f"provider {name!r} is not configured on this server; configured: {', '.join(configured)}",
                field="provider",
            )
        return name, (model or model_for_provider(name, self.settings.model))

    def provider(self, name: str | None = None) -> ImageProvider:
        name = name or self.default_provider
        if name not in self._providers:
            self._providers[name] = create_provider(name, self.settings)
        return self._providers[name]

    async def aclose(self) -> None:
        for loader in list(self._inputs.values()):
            await loader.aclose()
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()

    # ------------------------------------------------------------------ inputs
    async def load_inputs(self, refs: Sequence[str]) -> list[LoadedInput]:
        return await self.inputs.load(refs)

    async def read_ref(self, ref: str, *, what: str) -> tuple[Path, bytes]:
        return await self.inputs.read_ref(ref, what=what)

    async def prepare_mask(self, ref: str, first: LoadedInput) -> tuple[bytes, dict[str, Any]]:
        return await self.inputs.prepare_mask(ref, first)

    # ------------------------------------------------------------------- money
    def estimate(
        self, record: CallRecord, *, input_sizes: Sequence[tuple[int, int]] = (), partial_images: int = 0
    ) -> Estimate:
        o = record.options
        from easel_mcp.catalog.estimate import estimate

        return estimate(
            o.model,
            size=o.size,
            quality=o.quality,
            n=o.n,
            prompt=record.prompt,
            input_sizes=input_sizes,
            input_fidelity=o.input_fidelity,
            partial_images=partial_images or o.partial_images,
        )

    # -------------------------------------------------------------------- call
    def dry_run_result(self, record: CallRecord, estimate: Estimate) -> ImageResult:
        o = record.options
        from easel_mcp.schemas.results import ImageResult

        return ImageResult(
            images=[],
            provider=record.provider,
            model=o.model,
            operation=record.operation,
            size=o.size,
            quality=o.quality,
            cost_usd=None,
            cost_note="dry run: nothing was sent or written",
            estimated_cost_usd=estimate.total_usd,
            elapsed_s=0.0,
            dry_run=True,
            geometry=record.geometry,
            warnings=[*o.warnings, *record.warnings, *estimate.notes],
        )

    async def execute(
        self,
        record: CallRecord,
        request: GenerateRequest | EditRequest,
        *,
        input_sizes: Sequence[tuple[int, int]] = (),
        dry_run: bool = False,
        finish: Callable[[list[bytes]], list[bytes]] | None = None,
        progress: Progress | None = None,
        wait: bool = True,
    ) -> ImageResult:
        """Price the call, then (unless dry_run) run it through the engine: budget reserved, sent,
        every image and its sidecar written, the ledger settled. A call still running when the
        caller stops waiting (wait=False, or EASEL_SYNC_TIMEOUT_S) comes back as status 'running'."""
        from easel_mcp.schemas.results import ImageResult

        estimate = self.estimate(record, input_sizes=input_sizes)
        if dry_run:
            from easel_mcp.checked import close_held

            close_held(i.image for i in record.inputs)
            result = self.dry_run_result(record, estimate)
            left = await self.budget_left()
            upper = estimate.upper_usd
            tight = [v for v in left.values() if v is not None]
            if upper is not None and tight and upper > min(tight):
                result.warnings.append(
                    f"a real call would be refused: it could cost up to ${upper:.4f} and the "
                    f"budget has ${min(tight):.4f} left"
                )
            return result
        outcome = await self.engine.execute(
            record,
            request,
            estimate,
            input_sizes=input_sizes,
            finish=finish,
            progress=progress or Progress(None),
            wait=wait,
            sync_timeout_s=self.settings.sync_timeout_s,
        )
        if isinstance(outcome, ImageResult):
            return outcome
        o = record.options
        return ImageResult(
            images=[],
            provider=outcome.provider,
            model=o.model,
            operation=record.operation,
            size=o.size,
            quality=o.quality,
            estimated_cost_usd=estimate.total_usd,
            elapsed_s=round(outcome.elapsed_s, 3),
            status="running",
            job_id=outcome.id,
            geometry=record.geometry,
            cost_note="the call is still running; get_job(job_id) returns the images when it is done",
            warnings=[*o.warnings, *record.warnings],
        )

    async def write_outputs(
        self,
        record: CallRecord,
        result: ProviderResult,
        elapsed: float,
        estimate_usd: float | None,
        provider_name: str,
        finish: Callable[[list[bytes]], list[bytes]] | None,
        progress: Progress,
        saved: list[ImageOut] | None = None,
    ) -> ImageResult:
        """Decode the answer in full, post-process it and write every image and its sidecar (in worker
        threads); images that do not decode are left out with a warning (all of them: ImagingError)."""
        from easel_mcp.outputs import usable_images, write_outputs

        await progress.report("writing")
        images, notes = await anyio.to_thread.run_sync(usable_images, result.images)
        result.notes.extend(notes)
        if finish is not None:
            images = await anyio.to_thread.run_sync(finish, images)
        outcome = await anyio.to_thread.run_sync(
            write_outputs, self.workspace, record, result, images, elapsed, estimate_usd, provider_name, saved
        )
        await anyio.to_thread.run_sync(self._note_written, outcome)
        return outcome

    def _note_written(self, outcome: ImageResult) -> None:
        try:
            self.index.note_written([Path(i.path) for i in outcome.images])
        except Exception:  # the index is a cache: a failure here must not fail a paid call
            log.exception("could not add the new images to the index")

    def write_partial(self, record: CallRecord, index: int, data: bytes) -> str:
        """Save one streamed partial image (in the day's partials/ folder); its workspace-relative path."""
        from easel_mcp.imaging.io import decode_check

        info = decode_check(data, what="a partial image")
        written = self.workspace.write_image(
            data, ext=info.format, label=f"{record.label}-partial{index + 1}", subfolder="partials"
        )
        return written.relative_path

    def cheaper_options(self, record: CallRecord, input_sizes: Sequence[tuple[int, int]], left_usd: float) -> str:
        """Name variants of this call that fit in `left_usd`: lower quality, a smaller size, fewer images."""
        o = record.options
        variants: list[tuple[str, dict[str, Any]]] = []
        qualities = [q for q in ("low", "medium") if q != o.quality and (o.spec is None or q in o.spec.qualities)]
        variants += [(f"quality={q}", {"quality": q}) for q in qualities]
        if o.size != "1024x1024" and o.spec is not None and o.spec.sizes.named_size("square"):
            variants.append(("size=square", {"size": "1024x1024"}))
        if o.n > 1:
            variants.append(("n=1", {"n": 1}))
        fits: list[str] = []
        for label, change in variants:
            changed = CallRecord(record.operation, record.prompt, replace(o, **change), record.provider, record.label)
            est = self.estimate(changed, input_sizes=input_sizes)
            if est.upper_usd is not None and est.upper_usd <= left_usd:
                fits.append(f"{label} (up to ${est.upper_usd:.4f})")
        if fits:
            return "Cheaper options that fit: " + ", ".join(fits) + "."
        return "Wait for the budget period to roll over (UTC), or raise the limit."

    def job(self, job_id: str) -> Job | None:
        """A job this process runs or ran, if the caller started it (another user's job is not found)."""
        job = self.engine.jobs.get(job_id)
        return job if job is not None and job.user == current_user() else None

    def find_job(self, job_id: str) -> JobView | None:
        """A job from an earlier run of the server, rebuilt from the ledger and the sidecars."""
        from easel_mcp.outputs import rebuild_job

        rows = self.ledger.job_rows(job_id)
        if rows and rows[-1].get("user_id") != current_user():
            return None  # another user's job: not found, never its metadata
        return rebuild_job(self.workspace, rows, job_id)

    def recover(self) -> None:
        """At start-up: settle what a crashed run left open, from the files it wrote (nothing to do, and
        nothing imported, in a workspace that has no ledger yet)."""
        if self.settings.database_url is None and not (self.root_workspace.state_dir / "ledger.sqlite3").exists():
            return
        from easel_mcp.recovery import recover

        recover(self.root_workspace, self.ledger)
        self.ledger.abandon_stale(older_than_s=self.settings.timeout_s * 2 + 60)

    def usage_json(self) -> str:
        """The ledger's totals for easel://usage (the same figures as `easel-mcp usage`)."""
        import json

        from easel_mcp.budgets import day_bounds, month_bounds

        today, month = day_bounds()[0], month_bounds()[0]
        body = {
            "today": self.ledger.report(since=today, by="model"),
            "this_month": self.ledger.report(since=month, by="model"),
            "all_time": self.ledger.report(since=None, by="model"),
            "budget_left_usd": self.ledger.budget_left(self.budgets),
            "limits_usd": {
                "per_call": self.budgets.max_cost_per_call_usd,
                "daily": self.budgets.daily_usd,
                "monthly": self.budgets.monthly_usd,
            },
        }
        return json.dumps(body, indent=2)

    async def budget_left(self) -> dict[str, float | None]:
        """What the configured spending limits leave the caller (per call, today and this month, UTC)."""
        from easel_mcp.identity import current_user

        if not self.budgets.any_limit:
            return {"per_call": None, "today": None, "this_month": None}
        user = current_user()
        return await anyio.to_thread.run_sync(lambda: self.ledger.budget_left(self.budgets, user=user))


def open_studio(settings: Settings) -> Studio:
    """Open the workspace and check that the default provider can be built (credentials present)."""
    from easel_mcp.catalog.custom import load_models_file
    from easel_mcp.settings import unknown_variables

    for warning in unknown_variables():
        log.warning("%s", warning)

    if models := load_models_file(settings.models_file):  # before the prices file, which may override them
        log.info("models from %s: %s", settings.models_file, ", ".join(models))
    if settings.prices_file is not None:
        from easel_mcp.catalog.prices import load_price_overrides

        names = load_price_overrides(settings.prices_file)
        log.info("prices from %s for %s", settings.prices_file, ", ".join(names))
    workspace = Workspace.open(settings.workspace_path(), settings.input_dirs)
    studio = Studio(settings, workspace)
    studio.provider()
    if settings.database_url is not None or (workspace.state_dir / "ledger.sqlite3").exists():
        studio.ledger.check()  # a damaged ledger stops start-up here, with what to do (LedgerUnreadable)
    return studio
