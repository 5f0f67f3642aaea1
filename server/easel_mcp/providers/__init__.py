"""Upstream image services behind one interface (`base.ImageProvider`), registered by name.

A provider is its module (the class, its `profile` and `from_settings`), one line in `REGISTRY` and
its test (docs/adding-a-provider.md). Modules are imported on first use, so a server that never calls
OpenAI never imports its SDK (provider modules import their SDK inside the methods that need it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from easel_mcp.providers.base import ImageProvider
    from easel_mcp.providers.profile import ProviderProfile
    from easel_mcp.settings import Settings

# name -> "module:Class", in the order EASEL_PROVIDER=auto tries them; pinned by tests/test_providers_registry.py
REGISTRY: dict[str, str] = {
    "openai": "easel_mcp.providers.openai:OpenAIProvider",
    "azure": "easel_mcp.providers.azure:AzureProvider",
    "gemini": "easel_mcp.providers.gemini:GeminiProvider",
    "compatible": "easel_mcp.providers.compatible:CompatibleProvider",
    "offline": "easel_mcp.providers.offline:OfflineProvider",
}


def provider_class(name: str) -> type[ImageProvider]:
    from easel_mcp.errors import ConfigurationError

    try:
        target = REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigurationError(f"unknown provider {name!r}; known providers: {known}") from None
    module_name, _, class_name = target.partition(":")
    cls: type[ImageProvider] = getattr(importlib.import_module(module_name), class_name)
    return cls


def create_provider(name: str, settings: Settings) -> ImageProvider:
    """Build the provider `name` from settings (credentials are checked here, not at import)."""
    cls = provider_class(name)
    return cls.from_settings(settings)


def profile_of(name: str | None) -> ProviderProfile | None:
    """The profile of a registered provider; None for no provider or a name not registered."""
    return provider_class(name).profile if name in REGISTRY else None


def all_profiles() -> list[ProviderProfile]:
    """Every provider's profile, in registry order."""
    return [provider_class(name).profile for name in REGISTRY]


def bills(name: str | None) -> bool:
    """Whether calls on `name` cost money (an unknown name is assumed to: the ledger errs on the safe side)."""
    found = profile_of(name)
    return found is None or found.bills


def model_for_provider(name: str, configured: str) -> str:
    """The model a call on `name` without `model` uses (`ProviderProfile.model_for`)."""
    found = profile_of(name)
    return configured if found is None else found.model_for(configured)


def configured_providers(settings: Settings) -> list[str]:
    """Providers whose credentials are present (each profile's `configured`), in the order auto picks them:
    registry order, the one named by EASEL_PROVIDER first; the last (offline) needs nothing."""
    from easel_mcp.errors import ConfigurationError

    if settings.provider != "auto" and settings.provider not in REGISTRY:
        raise ConfigurationError(
            f"EASEL_PROVIDER={settings.provider!r} is not a provider: use auto or one of {', '.join(REGISTRY)}"
        )
    out = [p.name for p in all_profiles() if p.configured(settings)]
    if settings.provider not in ("auto", *out):
        out.insert(0, settings.provider)
    return out


def resolved_provider(settings: Settings) -> str:
    """The provider a call uses when it names none: EASEL_PROVIDER, or with auto the first configured."""
    configured = configured_providers(settings)
    return settings.provider if settings.provider != "auto" else configured[0]
