"""The Tasks extension on mcp's extension hooks: one `tools/call` interceptor, three methods.

An image tool called by a client that declared the extension (on protocol 2026-07-28) runs with
`wait=false`: the tool validates, prices and starts its engine job exactly as always, and the
running job comes back as a task. Anything else the tool answers (a refusal, a dry run, a call
with an explicit `wait`) is returned unchanged, and so is every call of a client without Tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, get_args

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import require_client_extension
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import MCP_NAME_HEADER, decode_header_value
from mcp_types import HEADER_MISMATCH, INVALID_PARAMS, CallToolRequestParams, CallToolResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from easel_mcp.identity import current_user
from easel_mcp.settings import Settings
from easel_mcp.tasks.shared import recall, remember
from easel_mcp.tasks.store import TaskRecord, TaskStore
from easel_mcp.tasks.wire import CreateTaskResult, EmptyResult, GetTaskResult, TaskParams, UpdateTaskParams
from easel_mcp.tools.common import PreviewMode, studio_of

if TYPE_CHECKING:
    from easel_mcp.service.jobs import Job  # the engine is built on the first call, not at start-up

EXTENSION_ID = "io.modelcontextprotocol/tasks"
# The tools whose calls run as engine jobs (the others answer at once).
TASKED_TOOLS = frozenset({"generate_image", "edit_image", "inpaint", "outpaint"})
_VERSIONS = frozenset(MODERN_PROTOCOL_VERSIONS)


class EaselTasks(Extension):
    identifier = EXTENSION_ID

    def __init__(self, settings: Settings) -> None:
        self.store = TaskStore(settings)

    def methods(self) -> Sequence[MethodBinding]:
        return [
            MethodBinding("tasks/get", TaskParams, self._get, protocol_versions=_VERSIONS),
            MethodBinding("tasks/cancel", TaskParams, self._cancel, protocol_versions=_VERSIONS),
            MethodBinding("tasks/update", UpdateTaskParams, self._update, protocol_versions=_VERSIONS),
        ]

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        arguments = params.arguments or {}
        if params.name not in TASKED_TOOLS or arguments.get("wait", True) is not True or not _declared(ctx):
            return await call_next(ctx)
        # The interceptor's params are the ones the tool is called with: start the job, don't wait.
        params.arguments = {**arguments, "wait": False}
        result = await call_next(ctx)
        job = self._running_job(ctx, result)
        if job is None:
            return result
        preview = arguments.get("preview", "auto")
        record = self.store.create(params.name, job, preview if preview in get_args(PreviewMode) else "auto")
        await remember(studio_of(ctx), record)
        return CreateTaskResult(**record.fields())

    def _running_job(self, ctx: ServerRequestContext[Any, Any], result: HandlerResult) -> Job | None:
        """The engine job of a tool result that says the call is running."""
        if not isinstance(result, CallToolResult) or result.is_error:
            return None
        data = result.structured_content or {}
        if data.get("status") != "running" or not isinstance(data.get("job_id"), str):
            return None
        return studio_of(ctx).engine.jobs.get(data["job_id"])

    async def _record(self, ctx: ServerRequestContext[Any, Any], task_id: str) -> TaskRecord:
        require_client_extension(ctx, EXTENSION_ID)
        headers = getattr(ctx.request, "headers", None)  # over HTTP: the routing header, when sent
        name = headers.get(MCP_NAME_HEADER) if headers is not None else None
        if name is not None and decode_header_value(name) != task_id:
            raise MCPError(HEADER_MISMATCH, f"{MCP_NAME_HEADER} header does not match the request's taskId")
        record = self.store.get(task_id)
        if record is not None and record.job.user != current_user():  # another user's task is not theirs to see
            record = None
        record = record or await recall(studio_of(ctx), task_id)  # this replica's, or a shared one (owner checked)
        if record is None:
            raise MCPError(
                INVALID_PARAMS,
                f"Task not found: no task {task_id!r} is known to this server (tasks are kept an hour "
                "after they were created, and not across restarts; get_job finds a job of an earlier run, "
                "by the job id in the task's statusMessage)",
            )
        return record

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> GetTaskResult:
        record = await self._record(ctx, params.task_id)
        workspace = studio_of(ctx).areas.workspace(record.job.user)  # where the job wrote its images
        return await self.store.snapshot(record, ctx.protocol_version, workspace)

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> EmptyResult:
        """Cancel the job; a task already finished keeps its result (cancellation is cooperative)."""
        record = await self._record(ctx, params.task_id)
        from easel_mcp.service.jobs import Job

        if not record.job.done.is_set():
            studio = studio_of(ctx)
            if isinstance(record.job, Job):
                studio.engine.cancel(record.job)
            else:  # a job another replica runs: ask it
                await studio.cancel_elsewhere(record.job.id, wait_s=0)
        return EmptyResult()

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: UpdateTaskParams) -> EmptyResult:
        """Easel's tasks never ask for input, so there is nothing outstanding to answer."""
        await self._record(ctx, params.task_id)
        return EmptyResult()


def _declared(ctx: ServerRequestContext[Any, Any]) -> bool:
    """The client declared Tasks on this request (2026-07-28: per-request capabilities)."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return False
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.extensions and EXTENSION_ID in capabilities.extensions)


def build_tasks(settings: Settings) -> EaselTasks:
    """The Tasks extension for `build_server(extensions=[...])`; its handlers read the Studio from the
    server's lifespan state."""
    return EaselTasks(settings)
