"""The catalog as the agent sees it (list_models, easel://models): the same rows that validation and
the estimator read, filtered and adjusted per provider."""

from __future__ import annotations

from collections.abc import Sequence

from easel_mcp.catalog import all_models
from easel_mcp.catalog.estimate import estimate
from easel_mcp.catalog.models import ModelSpec, format_size
from easel_mcp.catalog.prices import price_row
from easel_mcp.providers import model_for_provider, profile_of
from easel_mcp.schemas.models import ModelInfo, ModelPrices, ModelsList, ProviderModels


def _prices(spec: ModelSpec) -> ModelPrices | None:
    row = price_row(spec.name)
    if row is None:
        return None
    square = spec.sizes.named_size("square") or (spec.sizes.fixed[0] if spec.sizes.fixed else (1024, 1024))
    quality = "medium" if "medium" in spec.qualities else (spec.qualities[0] if spec.qualities else "auto")
    typical = estimate(spec.name, size=square, quality=quality).per_image_usd
    return ModelPrices(
        text_in_per_1m=row.text_in,
        image_in_per_1m=row.image_in,
        image_out_per_1m=row.image_out,
        per_image=row.per_image,
        typical_usd=typical,
        source=row.source,
        as_of=row.as_of.isoformat(),
        note=row.note,
    )


def model_info(spec: ModelSpec, provider: str) -> ModelInfo:
    limits = profile_of(provider)
    formats = [f for f in spec.output_formats if not limits or f not in limits.output_formats_excluded]
    fidelity = list(spec.input_fidelity)
    if limits and spec.name in limits.input_fidelity_unsupported:
        fidelity = []
    mask = "yes" if spec.masks else ("guidance" if spec.mask_guidance else "no")
    return ModelInfo(
        name=spec.name,
        family=spec.family,
        status=spec.status,
        status_date=spec.status_date.isoformat() if spec.status_date else None,
        status_note=spec.status_note,
        sizes=spec.sizes.describe(),
        named_sizes={k: format_size(v) for k, v in spec.sizes.named},
        qualities=list(spec.qualities),
        output_formats=formats,
        edit=spec.edits,
        mask=mask,
        transparent_background=spec.transparent_background,
        input_fidelity=fidelity,
        streaming=spec.streaming,
        max_n=spec.max_n,
        max_input_images=spec.max_input_images,
        prices=_prices(spec),
    )


def list_models(providers: Sequence[str], default: str, configured_model: str) -> ModelsList:
    out: list[ProviderModels] = []
    for provider in providers:
        limits = profile_of(provider)
        served = [m for m in all_models() if limits is None or limits.serves(m)]
        notes: list[str] = []
        if limits and limits.note:
            notes.append(limits.note)
        if limits and limits.unknown_models == "refuse":
            notes.append("models not listed here are refused before sending; add one with EASEL_MODELS_FILE")
        if limits and limits.output_formats_excluded:
            notes.append(f"no {', '.join(limits.output_formats_excluded)} output on {provider}")
        out.append(
            ProviderModels(
                provider=provider,
                default=provider == default,
                default_model=model_for_provider(provider, configured_model),
                notes=notes,
                models=[model_info(m, provider) for m in served],
            )
        )
    return ModelsList(providers=out)
