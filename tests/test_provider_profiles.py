"""Providers own their quirks: one profile per provider module, read through the registry; one image codec."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from easel_mcp.imaging.io import encode, open_image
from easel_mcp.providers import (
    REGISTRY,
    all_profiles,
    bills,
    configured_providers,
    profile_of,
    provider_class,
    resolved_provider,
)
from easel_mcp.providers.gemini_wire import convert
from easel_mcp.settings import Settings
from tests.helpers import png
from tests.provider_support import clean_provider_env

__all__ = ["clean_provider_env"]

PACKAGE = Path(__file__).parents[1] / "server" / "easel_mcp"


def test_each_provider_module_owns_its_profile() -> None:
    for name in REGISTRY:
        cls = provider_class(name)
        assert cls.profile.name == name and profile_of(name) is cls.profile
        assert cls.profile is vars(__import__(cls.__module__, fromlist=["PROFILE"]))["PROFILE"]
    assert profile_of("dalle") is None and profile_of(None) is None


def test_only_the_placeholder_provider_is_free() -> None:
    assert [p.name for p in all_profiles() if not p.bills] == ["offline"]
    assert bills("openai") and not bills("offline") and bills("a-provider-from-an-old-sidecar")


def test_auto_follows_the_registry_order_and_falls_back_to_offline() -> None:
    everything = Settings(
        openai_api_key="sk-x",  # type: ignore[arg-type]
        gemini_api_key="g",  # type: ignore[arg-type]
        azure_endpoint="https://r.openai.azure.com",
        azure_api_key="k",  # type: ignore[arg-type]
        base_url="https://gw.example/v1",
    )
    assert configured_providers(everything) == ["openai", "azure", "gemini", "compatible", "offline"]
    assert configured_providers(Settings()) == ["offline"] and resolved_provider(Settings()) == "offline"
    chosen = Settings(provider="gemini", base_url="https://gw.example/v1")
    assert configured_providers(chosen) == ["gemini", "compatible", "offline"]


def test_no_provider_name_is_compared_outside_providers() -> None:
    """Per-provider behaviour is a profile attribute (`bills`, `note`, ...), not `provider == "offline"`."""
    compare = re.compile(r"""(==|!=)\s*["'](openai|azure|compatible|gemini|offline)["']|["'](offline)["']\s*(==|!=)""")
    found = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in PACKAGE.rglob("*.py")
        if "providers" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if compare.search(line)
    ]
    assert found == []


def test_providers_have_no_image_codec_of_their_own() -> None:
    """Decoding and encoding go through `imaging.io` (one codec for every provider)."""
    codec = re.compile(r"Image\.open\(|\.save\(|import Image\b")
    found = [
        f"{path.name}:{n}"
        for path in (PACKAGE / "providers").glob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if codec.search(line)
    ]
    assert found == []


@pytest.mark.parametrize(("fmt", "compression"), [("jpeg", None), ("jpeg", 40), ("webp", 0), ("png", None)])
def test_a_gemini_answer_in_another_format_is_encoded_by_imaging(fmt: str, compression: int | None) -> None:
    answer = png((64, 48), (200, 30, 30))
    with open_image(answer) as img:
        expected = encode(img, fmt, compression=compression)
    converted = convert(answer, "image/png", fmt, compression)
    assert converted == (answer if fmt == "png" else expected)


def test_easel_provider_accepts_any_registered_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry line is all settings.py needs to know of a provider (its credentials aside)."""
    from easel_mcp.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="'acme' is not a provider: use auto or one of openai, azure"):
        resolved_provider(Settings(provider="acme"))
    monkeypatch.setitem(REGISTRY, "acme", "easel_mcp.providers.offline:OfflineProvider")
    assert resolved_provider(Settings(provider="acme")) == "acme"
