"""MCP Tasks (SEP-2663) on the wire: raw JSON-RPC on protocol 2026-07-28 against Easel over HTTP.

Each method and each error the extension defines, the task's result against the plain call's, and
no change for a client that does not declare the extension."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from easel_mcp.errors import ProviderError
from easel_mcp.settings import Settings
from tests.helpers import png
from tests.tasks_support import TASKS, Gate, gated_studio, http_easel, poll, rpc, same_call

GENERATE = {"name": "generate_image", "arguments": {"prompt": "a lighthouse at dusk", "size": "1024x1024"}}
INVALID_PARAMS, HEADER_MISMATCH, MISSING_CAPABILITY = -32602, -32020, -32021


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.release()  # a held call must not outlive its test


@pytest.fixture
def url(offline_settings: Settings, gate: Gate) -> Iterator[str]:
    with http_easel(offline_settings, gated_studio(offline_settings, gate)) as url:
        yield url
        gate.release()  # before the server stops: it would give a held call its grace period


def _task(url: str) -> dict[str, object]:
    answer = rpc(url, "tools/call", GENERATE)
    assert "error" not in answer, answer
    return answer["result"]  # type: ignore[no-any-return]


def test_the_server_advertises_tasks(url: str) -> None:
    assert rpc(url, "server/discover", {})["result"]["capabilities"]["extensions"][TASKS] == {}


def test_a_call_returns_a_task_while_the_model_is_still_working(url: str, gate: Gate) -> None:
    task = _task(url)  # answered although the provider holds the call
    assert task["resultType"] == "task" and task["status"] == "working"
    assert len(str(task["taskId"])) >= 32  # a bearer token: not guessable, not the short job id
    assert task["ttlMs"] == 3_600_000 and task["pollIntervalMs"] == 2000
    created = datetime.fromisoformat(str(task["createdAt"]))
    assert created.utcoffset() is not None and task["lastUpdatedAt"] == task["createdAt"]
    assert gate.entered.wait(60)
    working = rpc(url, "tasks/get", {"taskId": task["taskId"]})["result"]
    assert working["resultType"] == "complete" and working["status"] == "working"
    assert "result" not in working and "job " in working["statusMessage"]
    gate.release()
    done = poll(url, str(task["taskId"]))
    assert done["status"] == "completed" and done["resultType"] == "complete"
    assert "pollIntervalMs" not in done and done["createdAt"] == task["createdAt"]
    assert done["lastUpdatedAt"] >= done["createdAt"]


def test_the_tasks_result_is_the_plain_calls_result(url: str, gate: Gate) -> None:
    gate.release()
    plain = rpc(url, "tools/call", GENERATE, tasks=False)["result"]
    assert plain["structuredContent"]["status"] == "done"
    task = _task(url)
    result = poll(url, str(task["taskId"]))["result"]
    del plain["_meta"]  # the server's stamp on every response, not part of the tool's result
    assert same_call(result) == same_call(plain)
    assert [b["type"] for b in result["content"]] == ["text", "resource_link", "image"]
    for preview in ("none", "full"):
        args = {**GENERATE["arguments"], "preview": preview}
        plain = rpc(url, "tools/call", {**GENERATE, "arguments": args}, tasks=False)["result"]
        task = rpc(url, "tools/call", {**GENERATE, "arguments": args})["result"]
        del plain["_meta"]
        assert same_call(poll(url, task["taskId"])["result"]) == same_call(plain)


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("edit_image", {"images": ["p.png"]}),
        ("inpaint", {"image": "p.png", "regions": [{"x": 10, "y": 10, "width": 50, "height": 60}]}),
        ("outpaint", {"image": "p.png", "right": 100, "bottom": 50}),
    ],
)
def test_edits_and_retouches_are_tasks_too(
    offline_settings: Settings, url: str, tool: str, arguments: dict[str, object]
) -> None:
    (offline_settings.workspace_path() / "p.png").write_bytes(png((320, 240)))
    call = {"name": tool, "arguments": {"prompt": "a brass lantern", **arguments}}
    plain = rpc(url, "tools/call", call, tasks=False)["result"]
    task = rpc(url, "tools/call", call)["result"]
    assert task["resultType"] == "task", task
    del plain["_meta"]
    assert plain["structuredContent"]["operation"] == tool.removesuffix("_image")
    assert same_call(poll(url, task["taskId"])["result"]) == same_call(plain)


def test_a_tool_error_completes_the_task_with_the_plain_error_result(offline_settings: Settings) -> None:
    gate = Gate()
    gate.release()
    failing = ProviderError(
        "the model refused: content policy", provider="offline", code="moderation_blocked", status=400
    )
    with http_easel(offline_settings, gated_studio(offline_settings, gate, fail=failing)) as url:
        plain = rpc(url, "tools/call", GENERATE, tasks=False)["result"]
        task = _task(url)
        done = poll(url, str(task["taskId"]))
    assert plain["isError"] is True and "content policy" in plain["content"][0]["text"]
    assert done["status"] == "completed"  # a tool error is a result, not a JSON-RPC failure
    del plain["_meta"]
    assert done["result"] == plain


def test_cancel_stops_the_job(url: str, gate: Gate) -> None:
    task = _task(url)
    assert gate.entered.wait(60)
    ack = rpc(url, "tasks/cancel", {"taskId": task["taskId"]})
    assert ack["result"]["resultType"] == "complete" and set(ack["result"]) <= {"resultType", "_meta"}
    cancelled = poll(url, str(task["taskId"]))
    assert cancelled["status"] == "cancelled" and "was cancelled" in cancelled["statusMessage"]
    assert "result" not in cancelled and "error" not in cancelled


def test_cancel_of_a_finished_task_is_acknowledged_and_keeps_the_result(url: str, gate: Gate) -> None:
    gate.release()
    task = _task(url)
    done = poll(url, str(task["taskId"]))
    assert "error" not in rpc(url, "tasks/cancel", {"taskId": task["taskId"]})
    again = poll(url, str(task["taskId"]))
    assert again["status"] == "completed" and again["result"] == done["result"]


def test_update_is_acknowledged_for_a_known_task(url: str) -> None:
    task = _task(url)
    answer = rpc(url, "tasks/update", {"taskId": task["taskId"], "inputResponses": {"never-asked": {}}})
    assert answer["result"]["resultType"] == "complete"


@pytest.mark.parametrize("method", ["tasks/get", "tasks/cancel", "tasks/update"])
def test_unknown_task_ids_are_invalid_params(url: str, method: str) -> None:
    params: dict[str, object] = {"taskId": "no-such-task"}
    if method == "tasks/update":
        params["inputResponses"] = {}
    error = rpc(url, method, params)["error"]
    assert error["code"] == INVALID_PARAMS and "Task not found" in error["message"]


@pytest.mark.parametrize("method", ["tasks/get", "tasks/cancel"])
def test_a_client_that_did_not_declare_tasks_is_refused(url: str, method: str) -> None:
    task = _task(url)
    error = rpc(url, method, {"taskId": task["taskId"]}, tasks=False)["error"]
    assert error["code"] == MISSING_CAPABILITY
    assert error["data"] == {"requiredCapabilities": {"extensions": {TASKS: {}}}}


def test_the_routing_header_must_name_the_task(url: str) -> None:
    task = _task(url)
    error = rpc(url, "tasks/get", {"taskId": task["taskId"]}, name="another-task")["error"]
    assert error["code"] == HEADER_MISMATCH


def test_a_client_without_tasks_gets_the_plain_result(url: str, gate: Gate) -> None:
    gate.release()
    result = rpc(url, "tools/call", GENERATE, tasks=False)["result"]
    assert result["resultType"] == "complete" and result["structuredContent"]["status"] == "done"


@pytest.mark.parametrize(
    ("arguments", "expect"),
    [
        ({"dry_run": True}, "dry run"),
        ({"wait": False}, "running"),
        ({"size": "7x7"}, "error"),
    ],
)
def test_calls_that_answer_at_once_are_not_tasks(url: str, arguments: dict[str, object], expect: str) -> None:
    call = {**GENERATE, "arguments": {**GENERATE["arguments"], **arguments}}
    result = rpc(url, "tools/call", call)["result"]
    assert result["resultType"] == "complete"
    if expect == "error":
        assert result["isError"] is True
    elif expect == "dry run":
        assert result["structuredContent"]["dry_run"] is True
    else:
        assert result["structuredContent"]["status"] == "running" and result["structuredContent"]["job_id"]


def test_an_explicit_wait_true_is_a_task_too(url: str) -> None:
    call = {**GENERATE, "arguments": {**GENERATE["arguments"], "wait": True}}
    assert rpc(url, "tools/call", call)["result"]["resultType"] == "task"


def test_tools_that_answer_at_once_are_never_tasks(url: str) -> None:
    result = rpc(url, "tools/call", {"name": "list_models", "arguments": {}})["result"]
    assert result["resultType"] == "complete" and not result.get("isError")
