"""Models, capabilities and prices as data, and the functions that read them."""

from __future__ import annotations

from easel_mcp.catalog.models import ModelSpec
from easel_mcp.catalog.table import DEFAULT_MODEL, MODELS

_BY_NAME: dict[str, ModelSpec] = {}
for _spec in MODELS:
    _BY_NAME[_spec.name] = _spec
    for _alias in _spec.aliases:
        _BY_NAME[_alias] = _spec


_CUSTOM: dict[str, ModelSpec] = {}  # models described in EASEL_MODELS_FILE (catalog/custom.py), by name and alias
_CUSTOM_MODELS: list[ModelSpec] = []


def get_model(name: str) -> ModelSpec | None:
    """The catalog row for `name` (or one of its snapshot aliases); None for models we do not know."""
    key = name.strip().lower()
    return _CUSTOM.get(key) or _BY_NAME.get(key)


def all_models() -> tuple[ModelSpec, ...]:
    """The built-in rows (those a models file redefines replaced), then the models file's new ones."""
    if not _CUSTOM_MODELS:
        return MODELS
    redefined = {m.name: m for m in _CUSTOM_MODELS}
    return (*(redefined.pop(m.name, m) for m in MODELS), *redefined.values())


def set_custom_models(specs: list[ModelSpec]) -> None:
    """Replace the models added by configuration (an empty list removes them)."""
    _CUSTOM.clear()
    _CUSTOM_MODELS[:] = specs
    for spec in specs:
        for name in (spec.name, *spec.aliases):
            _CUSTOM[name] = spec


__all__ = ["DEFAULT_MODEL", "MODELS", "ModelSpec", "all_models", "get_model", "set_custom_models"]
