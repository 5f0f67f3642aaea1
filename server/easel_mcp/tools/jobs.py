"""get_job and cancel_job: follow a call that runs in the background (wait=false, or a host that cuts
long calls short). A job finished after its client left is still found, with its files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from easel_mcp.errors import InvalidRequest
from easel_mcp.progress import Progress
from easel_mcp.schemas.jobs import JobView
from easel_mcp.tools.common import VIEWER_META, shape_result, studio_of, tool_errors

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

JobId = Annotated[str, Field(description="The job_id returned by an image tool.")]
WaitS = Annotated[float, Field(ge=0, le=50, description="Seconds to wait for the job to finish before answering.")]


async def get_job(job_id: JobId, ctx: Context, wait_s: WaitS = 20.0) -> Annotated[CallToolResult, JobView]:
    studio = studio_of(ctx)
    job = studio.job(job_id)
    if job is not None:
        await job.follow(Progress(ctx), wait_s)
        view = job.view()
    else:
        with tool_errors():
            found = await studio.find_job(job_id)
            if found is None:
                raise InvalidRequest(
                    f"no job {job_id!r} is known to this server or recorded in its ledger", field="job_id"
                )
        view = found
    if view.result is None:
        return CallToolResult(
            content=[TextContent(text=view.model_dump_json())], structured_content=view.model_dump(mode="json")
        )
    shaped = await shape_result(view.result, preview="auto", settings=studio.settings, workspace=studio.workspace)
    structured = view.model_dump(mode="json")
    return CallToolResult(
        content=[TextContent(text=view.model_dump_json()), *shaped.content[1:]], structured_content=structured
    )


async def cancel_job(job_id: JobId, ctx: Context) -> JobView:
    studio = studio_of(ctx)
    job = studio.job(job_id)
    if job is None:
        with tool_errors():
            view = await studio.cancel_elsewhere(job_id)
            if view is None:
                raise InvalidRequest(f"no running job {job_id!r}", field="job_id")
        return view
    if not job.done.is_set():
        studio.engine.cancel(job)
        with anyio.move_on_after(10):
            await job.done.wait()
    return job.view()


def register(server: MCPServer) -> None:
    server.add_tool(
        get_job,
        meta=VIEWER_META,
        title="Get job",
        description="Status and, when done, the images of a call that runs in the background (an "
        "image tool answered status 'running' with a job_id).",
        annotations=ToolAnnotations(title="Get job", read_only_hint=True, open_world_hint=False),
    )
    server.add_tool(
        cancel_job,
        title="Cancel job",
        description="Stop a call that runs in the background. A request already sent to the model may still be billed.",
        annotations=ToolAnnotations(
            title="Cancel job", read_only_hint=False, destructive_hint=False, open_world_hint=False
        ),
    )
