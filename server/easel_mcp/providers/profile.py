"""What one upstream changes about the models it serves, owned by that provider's module.

Each provider class carries a `profile` (see `providers/__init__.py` for the registry): how it is
configured, which catalog models it serves, what it does with a model outside the catalog, whether
its calls cost money, and which request fields and formats it drops. `catalog.validate` and
`catalog.listing` apply these rows by provider name; no code outside `providers/` names a provider.
Model names in the tables are catalog names; "*" means any model. Sources as in image-apis.md §4, §5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pydantic import SecretStr

    from easel_mcp.catalog.models import ModelSpec
    from easel_mcp.settings import Settings

AS_OF = date(2026, 11, 25)


def always(settings: Settings) -> bool:
    """The `configured` check of a provider that needs no credential."""
    return True


def secret_set(value: SecretStr | None) -> bool:
    return bool(value and value.get_secret_value().strip())


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """One upstream's differences, as data."""

    name: str
    source: str
    # credentials present (auto picks the first configured provider, in registry order)
    configured: Callable[[Settings], bool]
    as_of: date = AS_OF
    families: tuple[str, ...] | None = None  # catalog families it serves; None: any (gateways, offline)
    default_model: str | None = None  # what to use when the configured model is not served here
    output_formats_excluded: tuple[str, ...] = ()
    default_quality: dict[str, str] = field(default_factory=dict)  # model|"*" -> quality used for auto
    input_fidelity_unsupported: tuple[str, ...] = ()
    # a model outside the catalog: refused before any request, or passed through as named (gateways)
    unknown_models: Literal["refuse", "pass"] = "pass"
    bills: bool = True  # False: nothing is reserved, estimated or charged (local placeholders)
    note: str | None = None  # said in list_models about this provider

    def serves(self, spec: ModelSpec | None) -> bool:
        """Models outside the catalog are the upstream's business: they pass."""
        return spec is None or self.families is None or spec.family in self.families

    def quality_for_auto(self, model: str) -> str | None:
        return self.default_quality.get(model, self.default_quality.get("*"))

    def model_for(self, configured: str) -> str:
        """The model a call without `model` should use: the configured one when this provider serves it,
        else its own default (EASEL_PROVIDER=gemini with the default EASEL_MODEL=gpt-image-1.5)."""
        from easel_mcp.catalog import get_model

        if self.default_model is None or self.serves(get_model(configured)):
            return configured
        return self.default_model
