"""What get_job and cancel_job return."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from easel_mcp.schemas.results import ImageResult


class JobView(BaseModel):
    """A call running (or run) in the background."""

    model_config = ConfigDict(extra="forbid")

    job_id: str
    status: Literal["queued", "running", "done", "failed", "cancelled", "unknown"]
    stage: str = Field(description="What the call is doing now, e.g. 'waiting for gpt-image-2 (37 s)'.")
    elapsed_s: float | None = None
    tool: str | None = None
    model: str | None = None
    provider: str | None = None
    estimated_cost_usd: float | None = None
    result: ImageResult | None = Field(default=None, description="The images and cost, once done.")
    error: str | None = Field(default=None, description="Why the call failed, and what to change.")
