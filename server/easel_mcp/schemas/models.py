"""What list_models (and easel://models) returns: the catalog rows, per configured provider."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ModelPrices(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text_in_per_1m: float | None
    image_in_per_1m: float | None
    image_out_per_1m: float | None
    per_image: dict[str, dict[str, float]] = Field(default_factory=dict, description="quality -> size -> USD")
    typical_usd: float | None = Field(description="One image, medium quality, square (or the nearest).")
    source: str
    as_of: str
    note: str = ""


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    family: str
    status: str = Field(description="live, deprecated, retired, or listed (in the SDK, no published details).")
    status_date: str | None = None
    status_note: str = ""
    sizes: str = Field(description="Which sizes the model accepts.")
    named_sizes: dict[str, str]
    qualities: list[str]
    output_formats: list[str]
    edit: bool
    mask: str = Field(description="yes (pixel mask), guidance (the area is described to the model) or no.")
    transparent_background: str
    input_fidelity: list[str]
    streaming: bool
    max_n: int
    max_input_images: int
    prices: ModelPrices | None


class ProviderModels(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    default: bool = Field(description="Used when a call names no provider.")
    default_model: str
    notes: list[str] = Field(default_factory=list)
    models: list[ModelInfo]


class ModelsList(BaseModel):
    """Every configured provider with the models it serves, from the same rows validation uses."""

    model_config = ConfigDict(extra="forbid")

    providers: list[ProviderModels]
