"""The composition root: builds the service's ports from the settings and hands them to the engine.

Per-user areas (the caller's workspace, input loader and index) are picked with `current_user()`; the
engine runs calls through the ports and never sees this object. `open_studio` is the entry; the MCP app
yields the studio as its lifespan state, which the tools read.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from easel_mcp.errors import InvalidRequest
from easel_mcp.identity import current_user
from easel_mcp.providers import configured_providers, resolved_provider
from easel_mcp.service.local import ProviderCache, UserAreas
from easel_mcp.settings import Settings
from easel_mcp.workspace import Workspace

# Imported where used (start-up stays lean: none of this is needed to answer tools/list).
if TYPE_CHECKING:
    import anyio.abc

    from easel_mcp.budgets import Budgets
    from easel_mcp.inputs import InputLoader
    from easel_mcp.providers.base import ImageProvider
    from easel_mcp.schemas.jobs import JobView
    from easel_mcp.service.engine import Engine
    from easel_mcp.service.jobs import Job
    from easel_mcp.storage.ports import ImageIndexPort, LedgerPort
    from easel_mcp.storage.postgres_replicas import ReplicaCoordination

log = logging.getLogger("easel_mcp")


class Studio:
    """Holds the workspace, the providers, the ledger and the engine for the server's lifetime."""

    def __init__(self, settings: Settings, workspace: Workspace) -> None:
        self.settings = settings
        self.root_workspace = workspace
        self.default_provider = resolved_provider(settings)
        self.task_group: anyio.abc.TaskGroup | None = None  # where background jobs run (see running())
        self.areas = UserAreas(settings, workspace, lambda: self.ledger if settings.database_url is not None else None)
        self.providers = ProviderCache(settings)
        self._ledger: LedgerPort | None = None
        self._engine: Engine | None = None

    # Each user sees their own workspace: every read, write, id and path of a call resolves inside it.
    @property
    def workspace(self) -> Workspace:
        """The caller's workspace: the configured one, or with OAuth the user's own folder inside it."""
        return self.areas.workspace(current_user())

    @property
    def inputs(self) -> InputLoader:
        return self.areas.inputs(current_user())

    @property
    def index(self) -> ImageIndexPort:
        """The caller's image index: SQLite, or PostgreSQL with EASEL_DATABASE_URL (call from a worker thread)."""
        return self.areas.index(current_user())

    # The ledger, the budgets and the engine are built on first use: none is needed to start.
    @property
    def ledger(self) -> LedgerPort:
        if self._ledger is None:
            from easel_mcp.storage.ports import open_ledger

            self._ledger = open_ledger(self.settings, self.root_workspace.state_dir)  # connected on first use
        return self._ledger

    @property
    def shared_ledger(self) -> ReplicaCoordination | None:
        """The ledger when several replicas share it (PostgreSQL): tasks and cancels go through it."""
        if self.settings.database_url is None:
            return None
        from easel_mcp.storage.postgres_replicas import ReplicaCoordination

        return self.ledger if isinstance(self.ledger, ReplicaCoordination) else None

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
            from easel_mcp.retry import RetryPolicy
            from easel_mcp.service.engine import Engine
            from easel_mcp.service.jobs import JobBook
            from easel_mcp.service.local import LedgerArchive, WorkspaceIndex, WorkspaceOutputs

            s = self.settings
            policy = RetryPolicy(
                s.retry_max_attempts, s.retry_base_delay_s, max(s.retry_base_delay_s, 20.0), s.retry_after_cap_s
            )
            self._engine = Engine(
                providers=self.providers,
                store=WorkspaceOutputs(self.areas.workspace),
                index=WorkspaceIndex(self.areas.index, self.areas.workspace),
                ledger=self.ledger,
                budgets=self.budgets,
                jobs=JobBook(LedgerArchive(self.ledger, self.areas.workspace)),
                max_concurrency=s.max_concurrency,
                policy=policy,
                shutdown_grace_s=s.shutdown_grace_s,
                sync_timeout_s=s.sync_timeout_s,
            )
            self._engine.start(self.task_group)
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
            self._start(tg)
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
            if self.settings.store_url is not None:
                from easel_mcp.storage.stored_workspace import StoredWorkspace

                if isinstance(self.root_workspace, StoredWorkspace):
                    tg.start_soon(self.root_workspace.keep_store, self.settings.store_flush_s)
            try:
                yield self
            finally:
                self._start(None)
                if self._engine is not None:
                    await self._engine.shutdown()
                tg.cancel_scope.cancel()

    def _start(self, tg: anyio.abc.TaskGroup | None) -> None:
        self.task_group = tg
        if self._engine is not None:
            self._engine.start(tg)

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

        view = await self.find_job(job_id)
        if view is None or view.status != "running" or not isinstance(self.ledger, PostgresLedger):
            return view
        await anyio.to_thread.run_sync(self.ledger.request_cancel, job_id)
        with anyio.move_on_after(wait_s):
            while view is not None and view.status == "running":
                await anyio.sleep(0.1)
                view = await self.find_job(job_id)
        return view

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
        return self.providers.provider(name or self.default_provider)

    async def aclose(self) -> None:
        await self.areas.aclose()
        await self.providers.aclose()

    def job(self, job_id: str) -> Job | None:
        """A job this process runs or ran, if the caller started it (another user's job is not found)."""
        job = self.engine.jobs.get(job_id)
        return job if job is not None and job.user == current_user() else None

    async def find_job(self, job_id: str) -> JobView | None:
        """A job from an earlier run of the server (or another replica's), rebuilt from the ledger and the
        sidecars, if the caller started it."""
        return await self.engine.jobs.find(job_id, current_user())

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
        return await self.engine.budget_left(current_user())


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
    if settings.store_url is not None:  # the store is the truth, the workspace folder this replica's cache
        from easel_mcp.storage.stored_workspace import open_stored_workspace

        workspace: Workspace = open_stored_workspace(settings)
    else:
        workspace = Workspace.open(settings.workspace_path(), settings.input_dirs)
    studio = Studio(settings, workspace)
    studio.provider()
    if settings.database_url is not None or (workspace.state_dir / "ledger.sqlite3").exists():
        studio.ledger.check()  # a damaged ledger stops start-up here, with what to do (LedgerUnreadable)
    return studio
