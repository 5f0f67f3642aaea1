"""Models, capabilities and prices as data, and the functions that read them."""

from __future__ import annotations

from easel_mcp.catalog.models import ModelSpec
from easel_mcp.catalog.table import DEFAULT_MODEL, MODELS

_BY_NAME: dict[str, ModelSpec] = {}
for _spec in MODELS:
    _BY_NAME[_spec.name] = _spec
    for _alias in _spec.aliases:
        _BY_NAME[_alias] = _spec


def get_model(name: str) -> ModelSpec | None:
    """The catalog row for `name` (or one of its snapshot aliases); None for models we do not know."""
    return _BY_NAME.get(name.strip().lower())


def all_models() -> tuple[ModelSpec, ...]:
    return MODELS


__all__ = ["DEFAULT_MODEL", "MODELS", "ModelSpec", "all_models", "get_model"]
