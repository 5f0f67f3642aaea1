"""Tests of the fake OpenAI Images API (tests/fakes): offline, driven by the real openai SDK."""

from __future__ import annotations

import base64
import io
import json
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from PIL import Image

from tests.fakes import fixtures
from tests.fakes import openai_validation as val
from tests.fakes.openai_images import FakeOpenAIImages, Scripted

fake_openai = fixtures.fake_openai  # the fixture under test, imported explicitly

GREEN = (0, 128, 0)


def client(fake: FakeOpenAIImages, **kw: Any) -> OpenAI:
    return OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=kw.pop("max_retries", 0), **kw)


def png(size: tuple[int, int] = (1024, 1024), mode: str = "RGB", colour: tuple[int, ...] = GREEN) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour if mode != "RGBA" else (*colour[:3], 255)).save(out, "PNG")
    return out.getvalue()


def mask_png(size: tuple[int, int] = (1024, 1024), mode: str = "RGBA") -> bytes:
    """Opaque mask with a fully transparent (= edit here) top-left quarter."""
    img = Image.new("RGBA", size, (0, 0, 0, 255))
    img.paste((0, 0, 0, 0), (0, 0, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    img.convert(mode).save(out, "PNG")
    return out.getvalue()


def decode(b64: str | None) -> Image.Image:
    assert b64 is not None
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


# --------------------------------------------------------------------------- lifecycle


def test_starts_fast_and_stops_cleanly() -> None:
    fake = FakeOpenAIImages().start()  # returns once the server accepts connections
    assert fake.base_url.startswith("http://127.0.0.1:") and fake.base_url.endswith("/v1")
    threads = {t.name for t in threading.enumerate()}
    assert any(name.startswith("fake-openai:") for name in threads)
    fake.stop()
    assert not any(t.name.startswith("fake-openai:") for t in threading.enumerate())
    with pytest.raises(httpx2.ConnectError):
        httpx2.post(f"{fake.base_url}/images/generations", json={})


def test_spec_path_from_repo_layout_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.delenv("EASEL_REFERENCE_DIR", raising=False)
    assert val.default_spec_path() == repo / "tests" / "fixtures" / val.SPEC_FILENAME
    original = val.default_spec_path()
    monkeypatch.setenv("EASEL_REFERENCE_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="EASEL_REFERENCE_DIR"):
        FakeOpenAIImages()
    shutil.copy(original, tmp_path / val.SPEC_FILENAME)
    assert FakeOpenAIImages().spec.properties("CreateImageRequest") >= {"prompt", "model", "size"}


# --------------------------------------------------------------------------- tokens and usage

GPT_IMAGE_2_CHECK = [  # image-apis.md section 3
    ((1024, 1024), (196, 1756, 7024)),
    ((1536, 1024), (158, 1372, 5488)),
    ((2048, 2048), (397, 3568, 14272)),
    ((3840, 2160), (371, 3336, 13342)),
]


@pytest.mark.parametrize(("size", "expected"), GPT_IMAGE_2_CHECK)
def test_gpt_image_2_formula_check_values(size: tuple[int, int], expected: tuple[int, int, int]) -> None:
    got = tuple(val.output_tokens("gpt-image-2", *size, q) for q in ("low", "medium", "high"))
    assert got == expected
    assert val.output_tokens("gpt-image-2-2026-04-21", *size, "auto") == expected[1]


def test_token_tables() -> None:
    assert val.output_tokens("gpt-image-1", 1024, 1024, "high") == 4160
    assert val.output_tokens("gpt-image-1.5", 1024, 1536, "low") == 408
    assert val.output_tokens("gpt-image-1-mini", 1536, 1024, "auto") == 1568
    assert val.output_tokens("gpt-image-2.5-flare", 1024, 1024, "max") == 7024  # base 96 as gpt-image-2 high
    assert val.input_image_tokens(1024, 1024) == 194
    assert val.input_image_tokens(1536, 1024) == 65 + 129 * 2
    assert val.input_image_tokens(300, 3000) == 65 + 129 * 10  # scaled to 512x5120: 10 tiles


@pytest.mark.parametrize("quality", ["low", "medium", "high"])
@pytest.mark.parametrize("size", ["1024x1024", "1024x1536", "1536x1024"])
def test_generate_gpt_image_1_table(
    fake_openai: FakeOpenAIImages, quality: Literal["low", "medium", "high"], size: str
) -> None:
    table = {"low": (272, 408, 400), "medium": (1056, 1584, 1568), "high": (4160, 6240, 6208)}
    expected = table[quality][["1024x1024", "1024x1536", "1536x1024"].index(size)]
    prompt = "a sea otter with a beret"
    res = client(fake_openai).images.generate(model="gpt-image-1", prompt=prompt, quality=quality, size=size)
    assert fake_openai.violations == []
    assert res.usage is not None and res.data
    assert res.usage.output_tokens == expected
    assert res.usage.input_tokens_details.text_tokens == len(prompt) // 4 + 1
    assert res.usage.total_tokens == res.usage.input_tokens + expected
    assert (res.size, res.quality, res.output_format, res.background) == (size, quality, "png", "opaque")
    img = decode(res.data[0].b64_json)
    assert img.format == "PNG" and f"{img.width}x{img.height}" == size
    text_usd = (len(prompt) // 4 + 1) * 5.00 / 1e6
    assert fake_openai.charged_usd == pytest.approx(text_usd + expected * 40.00 / 1e6)


def test_generate_gpt_image_2_sizes_formats(fake_openai: FakeOpenAIImages) -> None:
    c = client(fake_openai)
    res = c.images.generate(model="gpt-image-2", prompt="x", size="1536x1024", quality="high", n=2)
    assert res.usage is not None and res.data is not None
    assert res.usage.output_tokens == 2 * 5488 and len(res.data) == 2
    res = c.images.generate(
        model="gpt-image-2",
        prompt="x",
        size="2048x2048",
        quality="low",
        output_format="jpeg",
        output_compression=60,
    )
    assert res.usage is not None and res.data is not None and res.usage.output_tokens == 397
    img = decode(res.data[0].b64_json)
    assert (img.format, img.size) == ("JPEG", (2048, 2048))
    res = c.images.generate(model="gpt-image-2", prompt="x", size="auto", quality="auto")
    assert res.usage is not None and res.usage.output_tokens == 1756 and res.size == "1024x1024"
    assert fake_openai.violations == []
    assert len(fake_openai.usage_log) == 3
    assert fake_openai.charged_usd == pytest.approx(sum(val.cost_usd("gpt-image-2", u) for u in fake_openai.usage_log))
    assert fake_openai.usage_log[0]["output_tokens"] == 2 * 5488


def test_generate_transparent_webp(fake_openai: FakeOpenAIImages) -> None:
    res = client(fake_openai).images.generate(
        model="gpt-image-1.5", prompt="logo", background="transparent", output_format="webp", size="1024x1536"
    )
    assert res.data is not None and res.background == "transparent"
    img = decode(res.data[0].b64_json)
    assert (img.format, img.size, img.mode) == ("WEBP", (1024, 1536), "RGBA")
    assert img.getchannel("A").getpixel((2, 2)) == 0 and img.getchannel("A").getpixel((512, 768)) == 255
    assert fake_openai.violations == []


def test_async_edit_with_images_and_mask(fake_openai: FakeOpenAIImages) -> None:
    async def run() -> openai.types.ImagesResponse:
        async with AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0) as c:
            return await c.images.edit(
                model="gpt-image-1.5",
                image=[("a.png", png(), "image/png"), ("b.webp", _webp((1536, 1024)), "image/webp")],
                mask=("mask.png", mask_png(), "image/png"),
                prompt="put a hat on it",
                input_fidelity="high",
                quality="low",
            )

    res = anyio.run(run)
    assert fake_openai.violations == []
    rec = fake_openai.last
    assert rec.path == "/v1/images/edits" and rec.json is None
    assert [f.filename for f in rec.files["image[]"]] == ["a.png", "b.webp"]
    assert rec.files["mask"][0].image().mode == "RGBA"
    assert rec.fields["model"] == ["gpt-image-1.5"] and rec.fields["input_fidelity"] == ["high"]
    assert res.usage is not None and res.data is not None
    assert res.usage.input_tokens_details.image_tokens == 194 + 323 + 4160  # 2 inputs + fidelity (square)
    assert res.usage.output_tokens == 272
    img = decode(res.data[0].b64_json).convert("RGB")
    assert img.size == (1024, 1024)
    assert img.getpixel((100, 100)) == (255, 0, 255)  # masked quarter painted magenta
    assert img.getpixel((900, 900)) == GREEN  # elsewhere: the first input image


def _webp(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(out, "WEBP")
    return out.getvalue()


def test_edit_output_size_follows_input(fake_openai: FakeOpenAIImages) -> None:
    res = client(fake_openai).images.edit(
        model="gpt-image-2", image=("a.png", png((1280, 720)), "image/png"), prompt="x", quality="medium"
    )
    assert res.size == "1280x720" and res.data is not None
    assert decode(res.data[0].b64_json).size == (1280, 720)
    assert "image" in fake_openai.last.files and fake_openai.violations == []


def test_json_edit_with_data_urls() -> None:
    with FakeOpenAIImages() as fake:
        url = "data:image/png;base64," + base64.b64encode(png()).decode()
        bad_mask = "data:image/png;base64," + base64.b64encode(png(mode="RGB")).decode()
        body = {"model": "gpt-image-1.5", "prompt": "x", "images": [{"image_url": url}]}
        headers = {"authorization": "Bearer sk-test"}
        ok = httpx2.post(f"{fake.base_url}/images/edits", json=body, headers=headers)
        assert ok.status_code == 200, ok.text
        assert ok.json()["usage"]["input_tokens_details"]["image_tokens"] == 194
        bad = httpx2.post(
            f"{fake.base_url}/images/edits", json={**body, "mask": {"image_url": bad_mask}}, headers=headers
        )
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "mask"
        assert len(fake.violations) == 1 and "alpha" in fake.violations[0]


# --------------------------------------------------------------------------- violations

RGB_MASK = ("m.png", mask_png(mode="RGB"), "image/png")
Call = Callable[[OpenAI], object]
VIOLATIONS: dict[str, tuple[Call, str, str]] = {
    "moderation on edits": (
        lambda c: c.images.edit(model="gpt-image-1.5", image=png(), prompt="x", extra_body={"moderation": "low"}),
        "moderation",
        "moderation",
    ),
    "input_fidelity for gpt-image-2": (
        lambda c: c.images.edit(model="gpt-image-2", image=png(), prompt="x", input_fidelity="high"),
        "input_fidelity",
        "not supported by gpt-image-2",
    ),
    "bad size for gpt-image-2": (
        lambda c: c.images.generate(model="gpt-image-2", prompt="x", size="1000x1000"),
        "size",
        "multiples of 16",
    ),
    "aspect beyond 3:1": (
        lambda c: c.images.generate(model="gpt-image-2", prompt="x", size="3840x1024"),
        "size",
        "aspect ratio",
    ),
    "free size for gpt-image-1.5": (
        lambda c: c.images.generate(model="gpt-image-1.5", prompt="x", size="1280x720"),
        "size",
        "must be one of",
    ),
    "mask without alpha": (
        lambda c: c.images.edit(model="gpt-image-1.5", image=png(), mask=RGB_MASK, prompt="x"),
        "mask",
        "alpha channel",
    ),
    "mask of the wrong size": (
        lambda c: c.images.edit(
            model="gpt-image-1.5", image=png(), mask=("m.png", mask_png((512, 512)), "image/png"), prompt="x"
        ),
        "mask",
        "differs from the first image",
    ),
    "compression with png": (
        lambda c: c.images.generate(model="gpt-image-1.5", prompt="x", output_compression=50),
        "output_compression",
        "only for jpeg or webp",
    ),
    "transparent jpeg": (
        lambda c: c.images.generate(model="gpt-image-1.5", prompt="x", background="transparent", output_format="jpeg"),
        "background",
        "png or webp",
    ),
    "gif input sniffed, not named": (
        lambda c: c.images.edit(model="gpt-image-1.5", image=("a.png", b"GIF89a" + bytes(64), "image/png"), prompt="x"),
        "image",
        "not a png, webp or jpeg",
    ),
    "xhigh before 2.5": (
        lambda c: c.images.generate(model="gpt-image-2", prompt="x", quality="xhigh"),
        "quality",
        "xhigh",
    ),
    "response_format for gpt image": (
        lambda c: c.images.generate(model="gpt-image-1.5", prompt="x", response_format="url"),
        "response_format",
        "not supported",
    ),
    "n above 10 (schema)": (
        lambda c: c.images.generate(model="gpt-image-1.5", prompt="x", n=11),
        "n",
        "CreateImageRequest",
    ),
    "unknown parameter": (
        lambda c: c.images.generate(model="gpt-image-1.5", prompt="x", extra_body={"colour": "red"}),
        "colour",
        "Unknown parameter",
    ),
    "model omitted": (
        lambda c: c.images.generate(prompt="x"),
        "model",
        "model is required",
    ),
    "prompt too long": (
        lambda c: c.images.generate(model="gpt-image-1.5", prompt="x" * 32001),
        "prompt",
        "at most 32000",
    ),
}


@pytest.mark.parametrize("case", list(VIOLATIONS))
def test_violations_are_detected(fake_openai: FakeOpenAIImages, case: str) -> None:
    call, param, words = VIOLATIONS[case]
    with pytest.raises(openai.BadRequestError) as info:
        call(client(fake_openai))
    assert info.value.param == param
    assert info.value.type == "invalid_request_error"
    assert len(fake_openai.requests) == 1
    assert any(v.startswith(f"{param}: ") and words in v for v in fake_openai.violations), fake_openai.violations


def test_quality_xhigh_ok_for_2_5(fake_openai: FakeOpenAIImages) -> None:
    res = client(fake_openai).images.generate(model="gpt-image-2.5-sunburst", prompt="x", quality="xhigh")
    assert fake_openai.violations == [] and res.quality == "xhigh"
    assert res.usage is not None and res.usage.output_tokens == val.output_tokens("gpt-image-2.5", 1024, 1024, "xhigh")


def test_non_strict_records_but_answers() -> None:
    with FakeOpenAIImages(strict=False) as fake:
        res = client(fake).images.generate(model="gpt-image-2", prompt="x", size="1000x1000", output_compression=5)
        assert res.size == "1024x1024"
        assert [v.split(":")[0] for v in fake.violations] == ["size", "output_compression"]


def test_unknown_model_and_custom_model_set() -> None:
    with FakeOpenAIImages(models={"gpt-image-1.5", "my-deployment"}) as fake:
        c = client(fake)
        with pytest.raises(openai.NotFoundError) as info:
            c.images.generate(model="gpt-image-2", prompt="x")
        assert info.value.code == "model_not_found"
        with pytest.raises(openai.NotFoundError):
            c.images.generate(model="dall-e-3", prompt="x")
        c.images.generate(model="my-deployment", prompt="x")
        assert fake.requests[-1].violations == []


def test_auth_required(fake_openai: FakeOpenAIImages) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        OpenAI(base_url=fake_openai.base_url, api_key="sk-wrong", max_retries=0).images.generate(
            model="gpt-image-1.5", prompt="x"
        )
    assert info.value.code == "invalid_api_key"
    body = httpx2.post(f"{fake_openai.base_url}/images/generations", json={"prompt": "x"}).json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert fake_openai.charged_usd == 0


def test_request_id_and_raw_response_shape(fake_openai: FakeOpenAIImages) -> None:
    raw = client(fake_openai).images.with_raw_response.generate(model="gpt-image-1.5", prompt="x")
    assert raw.headers["x-request-id"].startswith("req_") and len(raw.headers["x-request-id"]) == 36
    assert fake_openai.spec.validate("ImagesResponse", raw.http_response.json()) == []


def test_latency() -> None:
    with FakeOpenAIImages(latency_s=0.3) as fake:
        t0 = time.monotonic()
        client(fake).images.generate(model="gpt-image-1.5", prompt="x", quality="low")
        assert time.monotonic() - t0 >= 0.3


# --------------------------------------------------------------------------- scripted failures


def test_scripted_rate_limit_with_retry_after(fake_openai: FakeOpenAIImages) -> None:
    fake_openai.script.append(Scripted.rate_limit(retry_after=2))
    c = client(fake_openai)
    with pytest.raises(openai.RateLimitError) as info:
        c.images.generate(model="gpt-image-1.5", prompt="x", size="3000x3000")
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.response.headers["x-request-id"].startswith("req_")
    assert info.value.code == "rate_limit_exceeded"
    assert fake_openai.requests[0].violations  # recorded and validated, but the script won
    assert c.images.generate(model="gpt-image-1.5", prompt="x").data  # script consumed
    assert fake_openai.script == []


def test_sdk_retries_scripted_429(fake_openai: FakeOpenAIImages) -> None:
    fake_openai.script.append(Scripted.rate_limit(retry_after=0.01, ms=True))
    res = client(fake_openai, max_retries=1).images.generate(model="gpt-image-1.5", prompt="x")
    assert res.data and len(fake_openai.requests) == 2
    assert fake_openai.requests[1].headers["x-stainless-retry-count"] == "1"
    assert len(fake_openai.usage_log) == 1


@pytest.mark.parametrize(
    ("scripted", "error", "code"),
    [
        (Scripted.moderation_blocked(), openai.BadRequestError, "moderation_blocked"),
        (Scripted.insufficient_quota(), openai.RateLimitError, "insufficient_quota"),
        (Scripted.unverified_org(), openai.PermissionDeniedError, None),
        (Scripted.server_error(500), openai.InternalServerError, None),
        (Scripted(502), openai.InternalServerError, None),
        (Scripted.server_error(503), openai.InternalServerError, None),
    ],
)
def test_scripted_errors(fake_openai: FakeOpenAIImages, scripted: Scripted, error: type, code: str | None) -> None:
    fake_openai.script.append(scripted)
    with pytest.raises(error) as info:
        client(fake_openai).images.generate(model="gpt-image-1.5", prompt="x")
    assert getattr(info.value, "code", None) == code
    if code == "moderation_blocked":
        assert info.value.type == "image_generation_user_error"  # type: ignore[attr-defined]
        assert "safety system" in str(info.value)


def test_scripted_connection_reset(fake_openai: FakeOpenAIImages) -> None:
    fake_openai.script.append(Scripted.connection_reset())
    with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
        httpx2.post(
            f"{fake_openai.base_url}/images/generations",
            json={"model": "gpt-image-1.5", "prompt": "x"},
            headers={"authorization": "Bearer sk-test"},
        )
    fake_openai.script.append(Scripted.connection_reset())
    with pytest.raises(openai.APIConnectionError):
        client(fake_openai).images.generate(model="gpt-image-1.5", prompt="x")
    assert len(fake_openai.requests) == 2 and fake_openai.violations == []


def test_scripted_garbage_body(fake_openai: FakeOpenAIImages) -> None:
    fake_openai.script.append(Scripted.garbage())
    with pytest.raises(ValueError):  # the SDK lets json.JSONDecodeError through
        client(fake_openai).images.generate(model="gpt-image-1.5", prompt="x")
    fake_openai.script.append(Scripted(raw=b"\x00\xffnot json", headers={"content-type": "text/plain"}))
    raw = httpx2.post(
        f"{fake_openai.base_url}/images/generations",
        json={"model": "gpt-image-1.5", "prompt": "x"},
        headers={"authorization": "Bearer sk-test"},
    )
    assert raw.status_code == 200 and raw.content == b"\x00\xffnot json"


def test_scripted_stall_is_cancellable(fake_openai: FakeOpenAIImages) -> None:
    fake_openai.script.append(Scripted.stall(30))
    t0 = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client(fake_openai, timeout=0.3).images.generate(model="gpt-image-1.5", prompt="x")
    fake_openai.stop()
    assert time.monotonic() - t0 < 25  # the stall is 30 s: stopping before it ends proves it was cancelled


# --------------------------------------------------------------------------- streaming


def test_streaming_generate_with_sdk(fake_openai: FakeOpenAIImages) -> None:
    stream = client(fake_openai).images.generate(
        model="gpt-image-1.5", prompt="x", stream=True, partial_images=2, quality="medium"
    )
    events = list(stream)
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [getattr(e, "partial_image_index", None) for e in events] == [0, 1, None]
    done = events[-1]
    assert done.type == "image_generation.completed"
    assert done.usage.output_tokens == 1056 + 2 * 100
    assert decode(done.b64_json).size == (1024, 1024)
    assert fake_openai.violations == [] and fake_openai.usage_log == [done.usage.model_dump()]


def test_streaming_edit_events_match_spec(fake_openai: FakeOpenAIImages) -> None:
    res = httpx2.post(
        f"{fake_openai.base_url}/images/edits",
        headers={"authorization": "Bearer sk-test"},
        data={"model": "gpt-image-1", "prompt": "x", "stream": "true", "partial_images": "1", "n": "2"},
        files=[("image[]", ("a.png", png(), "image/png")), ("image[]", ("b.png", png(), "image/png"))],
    )
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/event-stream")
    events = sse_events(res.text)
    names = {
        "image_edit.partial_image": "ImageEditPartialImageEvent",
        "image_edit.completed": "ImageEditCompletedEvent",
    }
    assert [name for name, _ in events] == [*names] * 2  # one partial + one completed per image
    for name, data in events:
        assert data["type"] == name
        assert fake_openai.spec.validate(names[name], data) == []
    completed = [data["usage"] for name, data in events if name == "image_edit.completed"]
    assert sum(u["input_tokens_details"]["image_tokens"] for u in completed) == 2 * 194
    assert sum(u["output_tokens"] for u in completed) == 2 * (1056 + 100)
    assert fake_openai.violations == []


def test_streaming_generation_events_match_spec(fake_openai: FakeOpenAIImages) -> None:
    res = httpx2.post(
        f"{fake_openai.base_url}/images/generations",
        headers={"authorization": "Bearer sk-test"},
        json={"model": "gpt-image-1.5", "prompt": "x", "stream": True, "partial_images": 1},
    )
    events = sse_events(res.text)
    assert [name for name, _ in events] == ["image_generation.partial_image", "image_generation.completed"]
    assert fake_openai.spec.validate("ImageGenPartialImageEvent", events[0][1]) == []
    assert fake_openai.spec.validate("ImageGenCompletedEvent", events[1][1]) == []
