"""Settings from the environment: EASEL_<NAME> (any case), the SDKs' own names where a field says so, arguments
over the environment, lists split as documented, bad values refused with the field's name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from easel_mcp.settings import Settings, from_environment


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("EASEL_", "OPENAI_", "AZURE_OPENAI_", "GEMINI_", "GOOGLE_API")):
            monkeypatch.delenv(name)


def test_easel_variables_fill_the_fields_in_any_case(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EASEL_DAILY_BUDGET_USD", "5")
    monkeypatch.setenv("easel_max_concurrency", "7")
    monkeypatch.setenv("EASEL_ALLOW_URLS", "true")
    monkeypatch.setenv("EASEL_WORKSPACE", str(tmp_path))
    settings = Settings()
    assert settings.daily_budget_usd == 5.0 and settings.max_concurrency == 7 and settings.allow_urls
    assert settings.workspace_path() == tmp_path


def test_the_sdks_own_names_and_their_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("GOOGLE_API_KEY", "g-fallback")
    monkeypatch.setenv("EASEL_OPENAI_API_KEY", "not-this-one")  # the field's name is OPENAI_API_KEY
    settings = Settings()
    assert settings.openai_api_key is not None and settings.openai_api_key.get_secret_value() == "sk-env"
    assert settings.gemini_api_key is not None and settings.gemini_api_key.get_secret_value() == "g-fallback"
    monkeypatch.setenv("GEMINI_API_KEY", "g-first")
    assert Settings().gemini_api_key.get_secret_value() == "g-first"  # type: ignore[union-attr]


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EASEL_MAX_CONCURRENCY", "9")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    settings = Settings(max_concurrency=2, openai_api_key="sk-arg")
    assert settings.max_concurrency == 2 and settings.openai_api_key.get_secret_value() == "sk-arg"  # type: ignore[union-attr]
    assert "max_concurrency" not in from_environment(os.environ, exclude={"MAX_CONCURRENCY": 1})


def test_lists_are_split_as_documented(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EASEL_OAUTH_SCOPES", "easel, images.read")
    monkeypatch.setenv("EASEL_INPUT_DIRS", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    monkeypatch.setenv("EASEL_CORS_ORIGINS", "https://a.example, https://b.example")
    settings = Settings()
    assert settings.oauth_scopes == ["easel", "images.read"]
    assert settings.input_dirs == [tmp_path / "a", tmp_path / "b"]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_a_bad_value_is_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EASEL_MAX_CONCURRENCY", "lots")
    with pytest.raises(ValidationError, match="max_concurrency"):
        Settings()
    monkeypatch.setenv("EASEL_MAX_CONCURRENCY", "4")
    monkeypatch.setenv("OPENAI_BASE_URL", "  ")  # empty is unset, as the official SDK has it
    assert Settings().openai_base_url is None
