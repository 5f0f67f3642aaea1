"""Every provider by name: its class, the variables it reads, and the exact error when one is missing."""

from __future__ import annotations

from typing import Any

import pytest

from easel_mcp.errors import ConfigurationError
from easel_mcp.providers import REGISTRY, create_provider, provider_class
from easel_mcp.providers.base import ImageProvider
from easel_mcp.settings import Settings
from tests.provider_support import clean_provider_env

__all__ = ["clean_provider_env"]

AZURE_MISSING = (
    "the azure provider needs an endpoint and a credential: set AZURE_OPENAI_ENDPOINT "
    "(https://RESOURCE.openai.azure.com) and AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN (or install "
    "easel-mcp[azure] to sign in with Entra ID); missing: "
)

# name, class path, variables that make it work (each alternative set on its own), error without them
TABLE: list[tuple[str, str, list[dict[str, str]], str | None]] = [
    (
        "openai",
        "easel_mcp.providers.openai:OpenAIProvider",
        [{"OPENAI_API_KEY": "sk-x"}],
        "the openai provider needs an API key: set OPENAI_API_KEY (or EASEL_PROVIDER=offline for placeholder images "
        "without a key)",
    ),
    (
        "azure",
        "easel_mcp.providers.azure:AzureProvider",
        [
            {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_API_KEY": "k"},
            {
                "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com",
                "AZURE_OPENAI_AD_TOKEN": "t",
                "OPENAI_API_VERSION": "2025-04-01-preview",
                "EASEL_AZURE_DEPLOYMENTS": "gpt-image-1.5=d",
            },
        ],
        AZURE_MISSING + "AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY",
    ),
    (
        "compatible",
        "easel_mcp.providers.compatible:CompatibleProvider",
        [
            {"EASEL_BASE_URL": "https://gw.example/v1"},
            {"EASEL_BASE_URL": "https://gw.example/v1", "EASEL_API_KEY": "k", "EASEL_EXTRA_HEADERS": "X-A=1"},
        ],
        "the compatible provider needs the gateway's URL: set EASEL_BASE_URL (e.g. https://gateway.example/v1), and "
        "EASEL_API_KEY if the gateway wants a key",
    ),
    (
        "gemini",
        "easel_mcp.providers.gemini:GeminiProvider",
        [{"GEMINI_API_KEY": "g"}, {"GOOGLE_API_KEY": "g", "EASEL_GEMINI_BASE_URL": "https://gemini.example"}],
        "the gemini provider needs an API key: set GEMINI_API_KEY (or GOOGLE_API_KEY); get one at "
        "https://aistudio.google.com/apikey",
    ),
    ("offline", "easel_mcp.providers.offline:OfflineProvider", [{}], None),
]


@pytest.mark.parametrize(("name", "path", "working", "missing"), TABLE, ids=[row[0] for row in TABLE])
def test_provider_table(
    name: str, path: str, working: list[dict[str, str]], missing: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(REGISTRY) == {row[0] for row in TABLE} and REGISTRY[name] == path
    cls: Any = provider_class(name)
    assert f"{cls.__module__}:{cls.__qualname__}" == path and cls.name == name
    monkeypatch.setattr("easel_mcp.providers.azure.entra_token_provider", lambda: None)  # azure-identity absent
    if missing is not None:
        with pytest.raises(ConfigurationError) as info:
            create_provider(name, Settings())
        assert str(info.value) == missing
    for env in working:
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(key, value)
            provider = create_provider(name, Settings())
            assert isinstance(provider, ImageProvider) and isinstance(provider, cls) and provider.name == name
            # every variable of a working set is needed (the optional ones excepted)
            for key in env:
                if key in (
                    "OPENAI_API_VERSION",
                    "EASEL_AZURE_DEPLOYMENTS",
                    "EASEL_API_KEY",
                    "EASEL_EXTRA_HEADERS",
                    "EASEL_GEMINI_BASE_URL",
                ):
                    continue
                m.delenv(key)
                with pytest.raises(ConfigurationError, match=r"^the \w+ provider needs .*: set "):
                    create_provider(name, Settings())
                m.setenv(key, env[key])


def test_an_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigurationError,
        match="unknown provider 'dalle'; known providers: azure, compatible, gemini, offline, openai",
    ):
        provider_class("dalle")
