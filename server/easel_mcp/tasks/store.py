"""Tasks as views of engine jobs: which job a task id stands for, and the task's state from it.

A task id is a fresh bearer token (the job ids are short and shown to the model, so they are not
reused as task ids). Tasks live in memory: after a restart `tasks/get` answers "not found", while
`get_job` still finds the job and its images in the ledger."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp_types import INTERNAL_ERROR, CallToolResult, TextContent
from mcp_types.methods import serialize_server_result

from easel_mcp.settings import Settings
from easel_mcp.tasks.wire import TERMINAL, GetTaskResult, TaskStatus
from easel_mcp.times import wire_time
from easel_mcp.tools.common import PreviewMode, shape_result

if TYPE_CHECKING:
    from easel_mcp.service.jobs import Job  # imported when a task is made, not at start-up
    from easel_mcp.workspace import Workspace

log = logging.getLogger("easel_mcp")

TTL_MS = 60 * 60 * 1000  # a finished task is kept an hour after it was created (a running one until done)
POLL_INTERVAL_MS = 2000  # image calls take seconds to minutes
MAX_TASKS = 1000  # past this, the oldest finished tasks are forgotten first
# How mcp's Tool.run words a ToolError; test_tasks_wire compares the task's result with the plain call's.
TOOL_ERROR = "Error executing tool {tool}: {error}"


@dataclass(eq=False)
class TaskRecord:
    """One task: the job it follows and how the tool's result is to be shaped."""

    task_id: str
    tool: str
    job: Job
    preview: PreviewMode
    created: float
    updated: float = 0.0
    seen: tuple[str, str | None] = ("working", None)

    def __post_init__(self) -> None:
        self.updated = self.updated or self.created
        self.seen = self.state()  # as created: lastUpdatedAt starts equal to createdAt

    def state(self) -> tuple[TaskStatus, str | None]:
        """The task's status and status message, from its job."""
        job = self.job
        if not job.done.is_set():
            return "working", f"{job.stage} (job {job.id})"
        if job.status == "cancelled":
            return "cancelled", str(job.error) if job.error else None
        return "completed", None

    def fields(self) -> dict[str, Any]:
        """The `Task` fields as of now (lastUpdatedAt moves when the status or message changes)."""
        status, message = self.state()
        if (status, message) != self.seen:
            self.seen, self.updated = (status, message), time.time()
        return {
            "task_id": self.task_id,
            "status": status,
            "status_message": message,
            "created_at": wire_time(self.created),
            "last_updated_at": wire_time(self.updated),
            "ttl_ms": TTL_MS,
            "poll_interval_ms": None if status in TERMINAL else POLL_INTERVAL_MS,
        }

    def expired(self, now: float) -> bool:
        return self.job.done.is_set() and now > self.created + TTL_MS / 1000


class TaskStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._tasks: dict[str, TaskRecord] = {}

    def create(self, tool: str, job: Job, preview: PreviewMode) -> TaskRecord:
        self._forget_old(room_for=1)
        record = TaskRecord(secrets.token_urlsafe(24), tool, job, preview, time.time())
        self._tasks[record.task_id] = record
        return record

    def get(self, task_id: str) -> TaskRecord | None:
        self._forget_old(room_for=0)
        return self._tasks.get(task_id)

    def _forget_old(self, room_for: int) -> None:
        """Drop expired tasks, then the oldest finished ones until `room_for` more fit under the cap."""
        now = time.time()
        for task_id in [t for t, r in self._tasks.items() if r.expired(now)]:
            del self._tasks[task_id]
        excess = len(self._tasks) + room_for - MAX_TASKS
        if excess > 0:
            finished = [r for r in self._tasks.values() if r.job.done.is_set()]
            for record in finished[:excess]:
                del self._tasks[record.task_id]

    async def snapshot(self, record: TaskRecord, version: str, workspace: Workspace) -> GetTaskResult:
        """The detailed task for `tasks/get`: once completed, with the result the plain tool call
        returns on protocol `version` (the images shaped with the call's own `preview`, read from
        `workspace`, the one the job wrote to; or the tool error)."""
        fields = record.fields()
        if fields["status"] != "completed":
            return GetTaskResult(**fields)
        job = record.job
        if job.result is None:
            text = TOOL_ERROR.format(tool=record.tool, error=job.error)
            error = CallToolResult(content=[TextContent(text=text)], is_error=True)
            return GetTaskResult(**fields, result=_dump(error, version))
        try:
            # shape_result notes preview fallbacks in the result's warnings: shape a copy, every time
            shaped = await shape_result(
                job.result.model_copy(deep=True), preview=record.preview, settings=self._settings, workspace=workspace
            )
        except Exception:
            log.exception("task %s: could not shape the result of job %s", record.task_id, job.id)
            message = f"Easel could not read the images of job {job.id}; the server log has details"
            return GetTaskResult(
                **{**fields, "status": "failed", "status_message": message},
                error={"code": INTERNAL_ERROR, "message": message},
            )
        return GetTaskResult(**fields, result=_dump(shaped, version))


def _dump(result: CallToolResult, version: str) -> dict[str, Any]:
    """`result` as the plain `tools/call` puts it on the wire (the SDK's own serializer)."""
    return serialize_server_result(
        "tools/call", version, result.model_dump(by_alias=True, mode="json", exclude_none=True)
    )
