"""Pytest fixtures for the fakes: ``pytest_plugins = ["tests.fakes.fixtures"]`` or import them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .openai_images import FakeOpenAIImages


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIImages]:
    """A started strict fake of the OpenAI Images API (api key ``sk-test``), stopped afterwards."""
    with FakeOpenAIImages() as fake:
        yield fake


@pytest.fixture
def fake_openai_env(fake_openai: FakeOpenAIImages, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAIImages:
    """``fake_openai`` with OPENAI_BASE_URL / OPENAI_API_KEY pointing at it."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", fake_openai.api_key or "sk-test")
    return fake_openai
