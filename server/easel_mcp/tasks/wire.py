"""The extension's wire shapes (SEP-2663, protocol 2026-07-28): flat task fields, camelCase.

mcp-types ships the 2025-11-25 task types (`ttl`, `pollInterval`, a nested `task`); SEP-2663 moved
tasks into an extension with `ttlMs`, `pollIntervalMs` and a flat `CreateTaskResult`, so the
shapes are declared here."""

from __future__ import annotations

from typing import Any, Literal

from mcp_types import RequestParams, Result

TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


class TaskFields(Result):
    """What every task result carries (the spec's `Task`)."""

    task_id: str
    status: TaskStatus
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None


class CreateTaskResult(TaskFields):
    """The answer to a `tools/call` that runs as a task: the seed state of the task."""

    result_type: Literal["task"] = "task"


class GetTaskResult(TaskFields):
    """The answer to `tasks/get`: the task, with the tool's result once completed (or the JSON-RPC
    error once failed)."""

    result_type: Literal["complete"] = "complete"
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class EmptyResult(Result):
    """The acknowledgement of `tasks/cancel` and `tasks/update`."""

    result_type: Literal["complete"] = "complete"


class TaskParams(RequestParams):
    """Params of `tasks/get` and `tasks/cancel`."""

    task_id: str


class UpdateTaskParams(TaskParams):
    """Params of `tasks/update` (answers to a task's input requests; Easel's tasks never ask)."""

    input_responses: dict[str, Any]
