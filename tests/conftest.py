"""Shared fixtures: a temporary workspace, settings for each provider, the fake OpenAI server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from easel_mcp.settings import Settings
from tests.fakes.fixtures import fake_openai  # noqa: F401  (fixture)

pytest_plugins = ["tests.infra.fixtures"]  # PostgreSQL, the S3 server, haproxy, the OAuth issuer

_ENV_PREFIXES = ("EASEL_", "OPENAI_", "AZURE_OPENAI_", "GEMINI_", "GOOGLE_API_KEY")
# Settings of the test run itself, not of Easel: they survive the clean-up.
KEEP_ENV = frozenset({"EASEL_REFERENCE_DIR"})


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's keys or settings (but the test-run settings in ``KEEP_ENV`` stay)."""
    for key in list(os.environ):
        if key.startswith(_ENV_PREFIXES) and key not in KEEP_ENV:
            monkeypatch.delenv(key, raising=False)
    yield


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def offline_settings(workspace_dir: Path) -> Settings:
    return Settings(workspace=workspace_dir, provider="offline")
