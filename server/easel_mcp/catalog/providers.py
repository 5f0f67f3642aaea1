"""What an upstream changes about the models it serves, as data (image-apis.md sections 4 and 5).

`catalog.validate.resolve_options(..., provider=name)` applies these rows; no validation code
names a provider. A provider without a row (or `provider=None`) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from easel_mcp.catalog.models import ModelSpec

_AS_OF = date(2026, 11, 25)
OPENAI_FAMILIES = ("gpt-image-1", "gpt-image-2", "gpt-image-2.5", "dall-e")


@dataclass(frozen=True, slots=True)
class ProviderLimits:
    """One upstream's differences. Model names in the tables are catalog names; "*" means any model."""

    provider: str
    source: str
    as_of: date = _AS_OF
    families: tuple[str, ...] | None = None  # catalog families it serves; None: any (gateways, offline)
    default_model: str | None = None  # what to use when the configured model is not served here
    output_formats_excluded: tuple[str, ...] = ()
    default_quality: dict[str, str] = field(default_factory=dict)  # model|"*" -> quality used for auto
    input_fidelity_unsupported: tuple[str, ...] = ()
    # a model outside the catalog: refused before any request, or passed through as named (gateways)
    unknown_models: Literal["refuse", "pass"] = "pass"

    def serves(self, spec: ModelSpec | None) -> bool:
        """Models outside the catalog are the upstream's business: they pass."""
        return spec is None or self.families is None or spec.family in self.families

    def quality_for_auto(self, model: str) -> str | None:
        return self.default_quality.get(model, self.default_quality.get("*"))


PROVIDER_LIMITS: dict[str, ProviderLimits] = {
    "openai": ProviderLimits("openai", "P: openai-python 3.57", families=OPENAI_FAMILIES, unknown_models="refuse"),
    "azure": ProviderLimits(
        "azure",
        "S: Azure OpenAI image docs, via image-apis.md §4",
        families=OPENAI_FAMILIES,
        output_formats_excluded=("webp",),
        default_quality={"gpt-image-1-mini": "medium", "*": "high"},
        input_fidelity_unsupported=("gpt-image-1-mini",),
        unknown_models="refuse",
    ),
    "gemini": ProviderLimits(
        "gemini",
        "S: image-apis.md §5",
        families=("gemini",),
        default_model="gemini-3.1-flash-image",
        unknown_models="refuse",
    ),
    "compatible": ProviderLimits("compatible", "gateways serve what they serve"),
    "offline": ProviderLimits("offline", "the local placeholder renderer draws any model's sizes"),
}


def provider_limits(provider: str | None) -> ProviderLimits | None:
    return PROVIDER_LIMITS.get(provider) if provider else None


def model_for_provider(provider: str, configured: str) -> str:
    """The model a call without `model` should use: the configured one when `provider` serves it,
    else the provider's own default (EASEL_PROVIDER=gemini with the default EASEL_MODEL=gpt-image-1.5)."""
    from easel_mcp.catalog import get_model

    limits = provider_limits(provider)
    if limits is None or limits.default_model is None or limits.serves(get_model(configured)):
        return configured
    return limits.default_model
