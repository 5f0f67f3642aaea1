"""GeminiProvider against the strict fake Gemini API: request shape, sizes, n calls, blocks, errors."""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from typing import Any

import pytest

from easel_mcp.catalog.prices import cost_from_usage
from easel_mcp.errors import (
    AuthenticationFailed,
    ConfigurationError,
    InvalidRequest,
    ModelNotFound,
    ModerationBlocked,
    QuotaExceeded,
    RateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)
from easel_mcp.providers.base import EditRequest, GenerateRequest, InputImage
from easel_mcp.providers.gemini import MASK_NOTE, GeminiProvider
from easel_mcp.settings import Settings
from tests.fakes.gemini import FakeGemini, GeminiScripted
from tests.provider_support import Closing, clean_provider_env, closing, image, mask_png, png

__all__ = ["clean_provider_env", "closing"]
pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as f:
        yield f


@pytest.fixture
def gemini(fake: FakeGemini, closing: Closing) -> GeminiProvider:
    return closing(GeminiProvider(api_key="gemini-test-key", base_url=fake.base_url))


def gen(model: str = "gemini-3.1-flash-image", **kw: Any) -> GenerateRequest:
    return GenerateRequest(
        model=model,
        prompt=kw.pop("prompt", "a lighthouse at dusk"),
        size=kw.pop("size", "auto"),
        quality=kw.pop("quality", "low"),
        **kw,
    )


@pytest.mark.parametrize(
    ("model", "size", "quality", "image_config"),
    [
        ("gemini-3.1-flash-image", "auto", "low", {"imageSize": "1K"}),
        ("gemini-3.1-flash-image", "auto", "medium", {"imageSize": "1K"}),
        ("gemini-3-pro-image", "auto", "high", {"imageSize": "2K"}),
        ("gemini-3-pro-image", "auto", "auto", None),
        ("gemini-3-pro-image", "1376x768", "high", {"aspectRatio": "16:9", "imageSize": "1K"}),
        ("gemini-3-pro-image", "5056x3392", "low", {"aspectRatio": "3:2", "imageSize": "4K"}),
        ("gemini-3-pro-image", "1696x2528", "low", {"aspectRatio": "2:3", "imageSize": "2K"}),
        ("gemini-3.1-flash-image", "3072x384", "low", {"aspectRatio": "8:1", "imageSize": "1K"}),
        ("gemini-2.5-flash-image", "1248x832", "high", {"aspectRatio": "3:2"}),
        ("gemini-2.5-flash-image", "auto", "high", None),
        ("gemini-3.1-flash-image", "1920x1080", "low", {"aspectRatio": "16:9", "imageSize": "2K"}),  # nearest
    ],
)
async def test_generate_sends_the_documented_body(
    fake: FakeGemini,
    gemini: GeminiProvider,
    model: str,
    size: str,
    quality: str,
    image_config: dict[str, str] | None,
) -> None:
    result = await gemini.generate(gen(model, size=size, quality=quality))
    assert fake.violations == [] and fake.errors == []
    [req] = fake.requests
    assert req.method == "POST" and req.path == f"/v1beta/models/{model}:generateContent"
    assert req.headers["x-goog-api-key"] == "gemini-test-key" and req.query == {}
    assert req.headers["content-type"] == "application/json"
    config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    if image_config:
        config["imageConfig"] = image_config
    assert req.json == {
        "contents": [{"role": "user", "parts": [{"text": "a lighthouse at dusk"}]}],
        "generationConfig": config,
    }
    [data] = result.images
    out = image(data)
    assert out.format == "PNG" and result.output_format == "png"
    assert result.size == f"{out.width}x{out.height}" and out.size != (64, 64)  # never the 'thought' draft
    if image_config and "aspectRatio" in image_config:
        a, b = (int(x) for x in image_config["aspectRatio"].split(":"))
        assert abs(math.log(out.width / out.height * b / a)) < 0.02
    assert result.usage == fake.usage_log[0] and result.request_id and result.request_id.startswith("resp-")
    assert result.notes == []


async def test_n_images_are_concurrent_bounded_calls_with_summed_usage(fake: FakeGemini, closing: Closing) -> None:
    fake.latency_s = 0.2
    p = closing(GeminiProvider(api_key="gemini-test-key", base_url=fake.base_url, max_concurrency=2))
    result = await p.generate(gen("gemini-2.5-flash-image", n=4))
    assert len(fake.requests) == 4 and fake.max_in_flight == 2 and fake.violations == []
    assert len(result.images) == 4
    usage = result.usage
    assert usage is not None
    for key in ("promptTokenCount", "candidatesTokenCount", "totalTokenCount"):
        assert usage[key] == sum(u[key] for u in fake.usage_log)
    assert usage["candidatesTokensDetails"] == [
        {"modality": "IMAGE", "tokenCount": 4 * 1290},
        {"modality": "TEXT", "tokenCount": 4 * 5},
    ]
    # 1290 image tokens per image at $30/1M: the listed $0.039 per image
    assert cost_from_usage("gemini-2.5-flash-image", usage) == (
        round(4 * 1290 * 30 / 1e6, 6),
        "image output tokens only: input tokens have no published price in the table",
    )


async def test_one_failed_call_of_several_returns_the_rest_with_a_note(
    fake: FakeGemini, gemini: GeminiProvider
) -> None:
    fake.script.append(GeminiScripted.finish("IMAGE_SAFETY"))
    result = await gemini.generate(gen(n=2))
    assert len(result.images) == 1
    assert result.notes == [
        "1 of 2 Gemini calls failed, so 1 image(s) came back; the first failure: Gemini's "
        "safety filter withheld the image (finishReason IMAGE_SAFETY); reword the prompt or use "
        "other input images. (request id finish-IMAGE_SAFETY)"
    ]


async def test_edit_sends_the_images_inline_after_the_text(fake: FakeGemini, gemini: GeminiProvider) -> None:
    first, second = png((600, 400), (200, 10, 10)), png((300, 300), (0, 0, 255))
    images = (InputImage(first, "image-1.png", "image/png"), InputImage(second, "image-2.png", "image/png"))
    result = await gemini.edit(
        EditRequest(
            model="gemini-3-pro-image", prompt="put the logo on the mug", images=images, size="auto", quality="medium"
        )
    )
    assert fake.violations == []
    parts = fake.last.json["contents"][0]["parts"]
    assert parts == [
        {"text": "put the logo on the mug"},
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(first).decode()}},
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(second).decode()}},
    ]
    assert fake.last.json["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"imageSize": "1K"},
    }
    out = image(result.images[0])
    assert abs(out.width / out.height - 3 / 2) < 0.02  # auto: Gemini keeps the input's ratio
    assert result.notes == []


async def test_a_mask_becomes_an_instruction_and_a_note(fake: FakeGemini, gemini: GeminiProvider) -> None:
    request = EditRequest(
        model="gemini-3.1-flash-image",
        prompt="add a red kite",
        size="1264x848",
        quality="low",
        images=(InputImage(png((1264, 848)), "image-1.png", "image/png"),),
        mask=mask_png((1264, 848), (632, 0, 1264, 424)),
    )
    result = await gemini.edit(request)
    assert fake.violations == []
    parts = fake.last.json["contents"][0]["parts"]
    assert len(parts) == 2 and "mask" not in str(fake.last.json)
    assert parts[0] == {
        "text": "add a red kite\n\nOnly change the area described (the region from 50% to 100% of "
        "the width and 0% to 50% of the height of the first image); keep everything else "
        "identical."
    }
    assert fake.last.json["generationConfig"]["imageConfig"] == {"aspectRatio": "3:2", "imageSize": "1K"}
    assert result.notes == [MASK_NOTE]
    assert "guidance, not enforced as a hard mask" in MASK_NOTE


async def test_jpeg_answers_are_converted_to_the_requested_format(closing: Closing) -> None:
    with FakeGemini(answer_mime="image/jpeg") as fake:
        p = closing(GeminiProvider(api_key="gemini-test-key", base_url=fake.base_url))
        result = await p.generate(gen())
    assert image(result.images[0]).format == "PNG"


@pytest.mark.parametrize(
    ("scripted", "error", "message"),
    [
        (GeminiScripted.prompt_blocked("SAFETY"), ModerationBlocked, "Gemini blocked the prompt (SAFETY); reword it"),
        (
            GeminiScripted.prompt_blocked("PROHIBITED_CONTENT"),
            ModerationBlocked,
            "Gemini blocked the prompt (PROHIBITED_CONTENT); reword it",
        ),
        (
            GeminiScripted.finish("IMAGE_SAFETY"),
            ModerationBlocked,
            "Gemini's safety filter withheld the image (finishReason IMAGE_SAFETY); reword the prompt",
        ),
        (GeminiScripted.finish("PROHIBITED_CONTENT"), ModerationBlocked, "finishReason PROHIBITED_CONTENT"),
        (
            GeminiScripted.finish("NO_IMAGE"),
            UpstreamRejected,
            "Gemini answered without an image (finishReason NO_IMAGE): rephrase the prompt to ask for an image "
            "explicitly.",
        ),
        (
            GeminiScripted.finish("STOP", "I can describe it instead."),
            UpstreamRejected,
            "Gemini answered without an image (finishReason STOP): rephrase the prompt to ask for an image explicitly. "
            'Gemini said: "I can describe it instead."',
        ),
        (GeminiScripted.rate_limited(7), RateLimited, "rate limited by Gemini; try again in 7 s"),
        (GeminiScripted.quota_exhausted(), QuotaExceeded, "the Gemini quota is used up"),
        (GeminiScripted.permission_denied(), AuthenticationFailed, "check GEMINI_API_KEY (or GOOGLE_API_KEY)"),
        (
            GeminiScripted.invalid_argument(),
            UpstreamRejected,
            "Gemini refused the request. Gemini said (INVALID_ARGUMENT): Request contains an invalid argument.",
        ),
        (GeminiScripted.server_error(500), UpstreamUnavailable, "Gemini failed with HTTP 500; try again"),
        (GeminiScripted.server_error(503), UpstreamUnavailable, "The model is overloaded"),
        (GeminiScripted.garbage(), UpstreamUnavailable, "Gemini's answer could not be read (JSONDecodeError)"),
    ],
)
async def test_blocks_and_failures_become_clear_errors(
    fake: FakeGemini, gemini: GeminiProvider, scripted: GeminiScripted, error: type[Exception], message: str
) -> None:
    fake.script.append(scripted)
    with pytest.raises(error) as info:
        await gemini.generate(gen())
    assert message in str(info.value)
    assert getattr(info.value, "provider", None) == "gemini"
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after_s == 7 and info.value.status == 429
    # the provider keeps working afterwards
    assert len((await gemini.generate(gen())).images) == 1


async def test_a_wrong_key_and_an_unknown_model(fake: FakeGemini, closing: Closing) -> None:
    p = closing(GeminiProvider(api_key="AIzaWrongKey1234567890abcdef", base_url=fake.base_url))
    with pytest.raises(AuthenticationFailed) as info:
        await p.generate(gen())
    assert "API key not valid" in str(info.value) and "AIzaWrongKey" not in str(info.value)
    assert info.value.status == 400 and info.value.code == "INVALID_ARGUMENT"
    good = closing(GeminiProvider(api_key="gemini-test-key", base_url=fake.base_url))
    with pytest.raises(ModelNotFound, match="Gemini does not serve this model"):
        await good.generate(gen("gemini-9-ultra-image"))


async def test_unreachable_and_oversized_inputs(closing: Closing) -> None:
    p = closing(GeminiProvider(api_key="k", base_url="http://127.0.0.1:9", connect_timeout_s=2))
    with pytest.raises(UpstreamUnavailable, match="could not reach Gemini") as info:
        await p.generate(gen())
    assert info.value.sent is False
    big = InputImage(b"\x89PNG" + b"0" * (16 * 1024 * 1024), "big.png", "image/png")
    with pytest.raises(InvalidRequest, match="Gemini takes at most 20 MB per request"):
        await p.edit(EditRequest(model="gemini-3-pro-image", prompt="x", images=(big,), size="auto", quality="low"))


async def test_from_settings_reads_gemini_or_google_key(
    fake: FakeGemini, closing: Closing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "gemini-test-key")
    monkeypatch.setenv("EASEL_GEMINI_BASE_URL", fake.base_url)
    p = closing(GeminiProvider.from_settings(Settings()))
    assert p.client is p.client  # one pooled client, built on first use
    await p.generate(gen())
    assert fake.last.headers["x-goog-api-key"] == "gemini-test-key"
    await p.aclose()
    assert p._client is None
    monkeypatch.setenv("EASEL_GEMINI_BASE_URL", "generativelanguage.googleapis.com")
    with pytest.raises(ConfigurationError, match="EASEL_GEMINI_BASE_URL must be an http"):
        GeminiProvider.from_settings(Settings())
