"""The result contract of every image tool (published as the tools' outputSchema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ImageOut(BaseModel):
    """One image written to the workspace."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Image id; pass it wherever an image path is accepted.")
    path: str = Field(description="Absolute path of the image file.")
    relative_path: str = Field(description="Path relative to the workspace.")
    uri: str = Field(description="MCP resource URI that serves the image (easel://images/<id>).")
    width: int
    height: int
    format: str = Field(description="png, jpeg or webp.")
    bytes: int = Field(description="File size in bytes.")
    sha256: str


class ImageResult(BaseModel):
    """What an image tool did: the files it wrote, what the model was asked, what it cost."""

    model_config = ConfigDict(extra="forbid")

    images: list[ImageOut] = Field(description="The images written (empty for a dry run).")
    provider: str
    model: str
    operation: Literal["generate", "edit", "inpaint", "outpaint"]
    size: str = Field(description="The size requested from the model (WxH or auto).")
    quality: str
    usage: dict[str, Any] | None = Field(default=None, description="Token usage exactly as the provider returned it.")
    cost_usd: float | None = Field(default=None, description="Actual cost from the usage; null when unknown.")
    cost_note: str | None = Field(default=None, description="Why cost_usd is null, or how it was derived.")
    cost_is_estimate: bool = Field(default=False, description="true when cost_usd is an estimate (no usage).")
    estimated_cost_usd: float | None = Field(default=None, description="The estimate made before the call.")
    revised_prompt: str | None = None
    elapsed_s: float
    request_id: str | None = None
    dry_run: bool = False
    status: Literal["done", "running", "dry_run"] = Field(
        default="done", description="running: the call goes on in the background; fetch it with get_job(job_id)."
    )
    job_id: str | None = Field(default=None, description="Id for get_job / cancel_job.")
    attempts: int = Field(default=1, description="Upstream attempts made (retries included).")
    geometry: dict[str, Any] | None = Field(default=None, description="Inpaint/outpaint geometry used.")
    partials: list[str] = Field(default_factory=list, description="Partial images saved while streaming.")
    warnings: list[str] = Field(default_factory=list)
