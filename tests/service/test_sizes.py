"""A call's size is parsed once, when its options are validated: everything after that (the estimate, the
provider request, the providers, inpaint's plan, the cheaper options, the dry run) reads the value."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from easel_mcp.catalog.validate import resolve_options
from easel_mcp.inputs import LoadedInput
from easel_mcp.providers.base import EditRequest, GenerateRequest, InputImage
from easel_mcp.providers.gemini_sizes import image_config
from easel_mcp.providers.offline import OfflineProvider
from easel_mcp.service.call import new_call
from easel_mcp.service.edits import inpaint_call
from easel_mcp.service.results import cheaper_options, dry_run_result
from easel_mcp.sizes import Size
from tests.service.fakes import png

pytestmark = pytest.mark.anyio


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every text `Size.parse` reads while the test runs."""
    texts: list[str] = []
    parse = Size.parse.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Size], text: str) -> Size | None:
        texts.append(text)
        result: Size | None = parse(cls, text)
        return result

    monkeypatch.setattr(Size, "parse", classmethod(counting))
    yield texts


async def test_a_generation_parses_its_size_once(parsed: list[str]) -> None:
    options = resolve_options("generate", model="gpt-image-1.5", provider="openai", prompt="p", size="1536X1024", n=2)
    assert parsed == ["1536x1024"] and options.dimensions == Size(1536, 1024) and options.size == "1536x1024"
    call = new_call("generate", "p", options, "openai", "p")
    request = call.request
    assert isinstance(request, GenerateRequest)
    assert (request.size, request.dimensions) == ("1536x1024", Size(1536, 1024))  # the wire text, the value
    answer = await OfflineProvider().generate(request)
    assert answer.size == "1536x1024"
    assert "size=square (up to" in cheaper_options(call, left_usd=10.0)  # priced at Size(1024, 1024)
    assert dry_run_result(call, {"per_call": None}).size == "1536x1024"
    assert image_config("gemini-3-pro-image", Size(1376, 768), "high") == ("16:9", "1K")
    assert parsed == ["1536x1024"]  # nothing after validation read the text again


async def test_named_and_auto_sizes_are_never_parsed(parsed: list[str]) -> None:
    named = resolve_options("generate", model="gpt-image-1.5", provider="openai", prompt="p", size="landscape")
    auto = resolve_options("generate", model="gpt-image-1.5", provider="openai", prompt="p")
    assert (named.dimensions, named.size, auto.dimensions, auto.size) == (Size(1536, 1024), "1536x1024", None, "auto")
    for options in (named, auto):
        call = new_call("generate", "p", options, "openai", "p")
        assert call.request.dimensions == options.dimensions and call.estimate.total_usd is not None
    assert parsed == []


async def test_an_inpaint_reads_the_requested_size_as_a_value(parsed: list[str]) -> None:
    options = resolve_options(
        "edit", model="gpt-image-1.5", provider="openai", prompt="sky", size="1024x1024", image_count=1, has_mask=True
    )
    source = LoadedInput("s.png", None, InputImage(png(64, 48), "image-1.png", "image/png"), 64, 48, "0" * 64, None)
    call = await inpaint_call(
        "sky",
        options,
        "openai",
        "sky",
        source,
        regions=[{"x": 4, "y": 4, "width": 20, "height": 10}],
        mask_data=None,
        convention="auto",
        feather=2,
        preserve_unmasked=True,
    )
    request = call.request
    assert isinstance(request, EditRequest) and request.dimensions == call.options.dimensions == Size(1024, 1024)
    assert call.geometry is not None and call.geometry["request_size"] == [1024, 1024]
    assert parsed == ["1024x1024"]


def test_a_request_written_by_hand_reads_its_text_and_refuses_a_disagreement() -> None:
    request = GenerateRequest(model="gpt-image-1.5", prompt="p", size="1024x1536", quality="low")
    assert request.dimensions == Size(1024, 1536)
    assert GenerateRequest(model="gpt-image-1.5", prompt="p", size="auto", quality="low").dimensions is None
    with pytest.raises(ValueError, match="disagree"):
        GenerateRequest(model="m", prompt="p", size="1024x1024", quality="low", dimensions=Size(1536, 1024))
