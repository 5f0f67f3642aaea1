"""MCP Tasks against an independent client: fastmcp's Client with fastmcp-tasks (SEP-2663 on protocol
2026-07-28). A held image call comes back as a task at once, completes through `tasks/get` polling
with the plain call's result, and can be cancelled; a client without Tasks waits as before."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastmcp import Client as FastMCPClient
from fastmcp.client.transports import StdioTransport
from fastmcp.exceptions import ToolError
from fastmcp_tasks.client import call_tool_task
from mcp import Client
from mcp.client.extension import advertise
from mcp_types import CallToolResult

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from easel_mcp.studio import Studio
from tests.helpers import structured
from tests.tasks_support import STUCK_S, TASKS, Gate, gated_studio, http_easel, same_call

pytestmark = pytest.mark.anyio

PROMPT = {"prompt": "a red kite over the dunes", "size": "1024x1024"}
# A gateway that cuts requests long before any real image call ends: every request must be short.
# (A request here takes milliseconds; the bound is generous for a busy machine.)
GATEWAY_TIMEOUT_S = 10


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.release()


@pytest.fixture
def studio(offline_settings: Settings, gate: Gate) -> Studio:
    return gated_studio(offline_settings, gate)


async def _entered(gate: Gate) -> None:
    with anyio.fail_after(STUCK_S):
        await anyio.to_thread.run_sync(gate.entered.wait)


def _wire(result: Any) -> dict[str, Any]:
    return CallToolResult(
        content=result.content, structured_content=result.structured_content, is_error=result.is_error
    ).model_dump(by_alias=True, mode="json", exclude_none=True)


async def test_a_held_call_is_a_task_at_once_and_completes_with_the_images(
    offline_settings: Settings, studio: Studio, gate: Gate
) -> None:
    async with FastMCPClient(build_server(offline_settings, studio)) as client:
        with anyio.fail_after(STUCK_S):
            task = await call_tool_task(client, "generate_image", PROMPT)  # returns while the model is held
        await _entered(gate)
        status = await task.status()
        assert status.status == "working" and status.poll_interval_ms == 2000 and status.ttl_ms == 3_600_000
        assert status.status_message and "job " in status.status_message
        gate.release()
        result = await task.result()
    data = result.structured_content
    assert data is not None and data["status"] == "done" and len(data["images"]) == 1
    assert Path(data["images"][0]["path"]).is_file()
    assert [b.type for b in result.content] == ["text", "resource_link", "image"]


async def test_cancel_stops_the_job_and_writes_nothing(offline_settings: Settings, studio: Studio, gate: Gate) -> None:
    async with FastMCPClient(build_server(offline_settings, studio)) as client:
        with anyio.fail_after(STUCK_S):
            task = await call_tool_task(client, "generate_image", PROMPT)
        await _entered(gate)
        [job] = studio.engine.jobs.values()
        await task.cancel()
        with anyio.fail_after(STUCK_S):
            await job.done.wait()
        status = await task.status()
        assert status.status == "cancelled" and status.status_message and "cancelled" in status.status_message
        with pytest.raises(ToolError, match="cancelled"):
            await task.result()
    assert job.status == "cancelled"
    assert not [p for p in offline_settings.workspace.rglob("*.png") if ".easel" not in p.parts]


async def test_over_http_a_long_call_is_only_short_requests(
    offline_settings: Settings, studio: Studio, gate: Gate
) -> None:
    """The call is held for as long as the test likes; the client's requests never wait for it."""
    with http_easel(offline_settings, studio) as url:
        async with FastMCPClient(url, timeout=GATEWAY_TIMEOUT_S) as client:
            task = await call_tool_task(client, "generate_image", PROMPT)
            await _entered(gate)
            for _ in range(3):
                assert (await task.status()).status == "working"
            gate.release()
            tasked = await task.result()
            # fastmcp's call_tool drives the task to its end under the hood
            transparent = await client.call_tool("generate_image", PROMPT)
        async with Client(url) as plain_client:  # no Tasks: the call waits, as before
            plain = await plain_client.call_tool("generate_image", PROMPT)
    assert structured(plain)["status"] == "done"
    assert same_call(_wire(tasked)) == same_call(_wire(plain)) == same_call(_wire(transparent))


async def test_over_stdio_as_hosts_spawn_it(workspace_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "OPENAI_"))}
    env.update(EASEL_WORKSPACE=str(workspace_dir), EASEL_PROVIDER="offline")
    transport = StdioTransport(command=sys.executable, args=["-m", "easel_mcp"], env=env, cwd="/")
    async with FastMCPClient(transport) as client:
        task = await call_tool_task(client, "generate_image", PROMPT)
        result = await task.result()
    assert result.structured_content is not None and result.structured_content["status"] == "done"


async def test_a_legacy_client_gets_no_tasks(offline_settings: Settings, studio: Studio, gate: Gate) -> None:
    """Extensions exist from protocol 2026-07-28 on: a handshake-era client that names Tasks still
    gets the plain, waited-for result."""
    gate.release()
    async with Client(build_server(offline_settings, studio), mode="legacy", extensions=[advertise(TASKS)]) as client:
        result = await client.call_tool("generate_image", PROMPT)
    assert structured(result)["status"] == "done"
