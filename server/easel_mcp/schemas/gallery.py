"""What list_images and get_image return."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ImageSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    relative_path: str
    uri: str
    created_at: str
    operation: str
    prompt: str | None = None
    model: str | None = None
    provider: str | None = None
    width: int | None = None
    height: int | None = None
    format: str
    bytes: int
    cost_usd: float | None = None
    parents: list[str] = Field(default_factory=list)


class ImageList(BaseModel):
    """Images in the workspace, newest first."""

    model_config = ConfigDict(extra="forbid")

    images: list[ImageSummary]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null at the end.")
    total: int = Field(description="Images in the workspace.")


class ImageDetail(BaseModel):
    """One image: its summary, every sidecar field, and what it came from and led to."""

    model_config = ConfigDict(extra="forbid")

    image: ImageSummary
    path: str
    sidecar: dict[str, Any] | None
    parents: list[ImageSummary]
    children: list[ImageSummary]
    lineage: dict[str, Any]
