"""Shared pieces of the provider-level tests (azure, compatible, gemini, registry)."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import pytest
from PIL import Image

T = TypeVar("T")
PROVIDER_ENV_PREFIXES = ("EASEL_", "OPENAI_", "AZURE_", "GEMINI_", "GOOGLE_")


@pytest.fixture(autouse=True)
def clean_provider_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No provider test sees the developer's Azure, Gemini or Google settings either."""
    for key in list(os.environ):
        if key.startswith(PROVIDER_ENV_PREFIXES):
            monkeypatch.delenv(key, raising=False)
    yield


class Closing:
    """Providers built in a test, closed (their HTTP pools too) when it ends."""

    def __init__(self) -> None:
        self.providers: list[Any] = []

    def __call__(self, provider: T) -> T:
        self.providers.append(provider)
        return provider


@pytest.fixture
async def closing() -> AsyncIterator[Closing]:
    tracker = Closing()
    yield tracker
    for provider in tracker.providers:
        await provider.aclose()


def png(size: tuple[int, int] = (1024, 1024), colour: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def mask_png(size: tuple[int, int], hole: tuple[int, int, int, int]) -> bytes:
    """OpenAI's convention: opaque everywhere, alpha 0 inside `hole` (where the model may paint)."""
    img = Image.new("RGBA", size, (0, 0, 0, 255))
    img.paste((0, 0, 0, 0), hole)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def image(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img
