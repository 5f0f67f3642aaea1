"""Upstream image services behind one interface (`base.ImageProvider`), registered by name.

Modules are imported on first use, so a server that never calls OpenAI never imports its SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from easel_mcp.providers.base import ImageProvider
    from easel_mcp.settings import Settings

# name -> "module:Class"; pinned by tests/test_providers_registry.py
REGISTRY: dict[str, str] = {
    "openai": "easel_mcp.providers.openai:OpenAIProvider",
    "azure": "easel_mcp.providers.azure:AzureProvider",
    "compatible": "easel_mcp.providers.compatible:CompatibleProvider",
    "gemini": "easel_mcp.providers.gemini:GeminiProvider",
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
