"""The result of estimate_cost."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CostPart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: int | None = None
    usd: float | None = None


class CostBreakdown(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text_input: CostPart
    image_input: CostPart
    image_output: CostPart


class EstimateResult(BaseModel):
    """What a call would cost, priced from the catalog (nothing is sent)."""

    model_config = ConfigDict(extra="forbid")

    operation: str
    model: str
    size: str = Field(description="The size that would be requested (WxH or auto).")
    quality: str
    n: int
    total_usd: float | None = Field(description="Typical cost of the whole call; null when the price is unknown.")
    min_usd: float | None = Field(default=None, description="Lowest cost when quality or size is auto.")
    max_usd: float | None = Field(default=None, description="Highest cost when quality or size is auto.")
    per_image_usd: float | None = None
    breakdown: CostBreakdown
    price_source: str | None = None
    price_as_of: str | None = None
    notes: list[str] = Field(default_factory=list)
    budget_left_usd: dict[str, float | None] = Field(
        default_factory=dict, description="What the configured limits leave: per_call, today, this_month (UTC)."
    )
    geometry: dict[str, Any] | None = None
    warnings: list[str] = Field(default_factory=list)
