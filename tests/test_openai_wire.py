"""generate_image and edit_image through the MCP client against a fake OpenAI server on 127.0.0.1.

Every request the fake receives is validated against OpenAI's OpenAPI file and the model rules;
`fake.violations` must stay empty."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from mcp import Client
from PIL import Image

from easel_mcp.app import build_server
from easel_mcp.providers import resolved_provider
from easel_mcp.settings import Settings
from tests.fakes.openai_images import FakeOpenAIImages, Scripted
from tests.helpers import error_text, png, structured

pytestmark = pytest.mark.anyio


@pytest.fixture
def openai_settings(workspace_dir: Path, fake_openai: FakeOpenAIImages) -> Settings:
    return Settings(
        workspace=workspace_dir,
        provider="auto",
        openai_api_key="sk-test",
        openai_base_url=fake_openai.base_url,
        retry_base_delay_s=0.01,
        retry_after_cap_s=0.05,
    )


async def test_auto_provider_picks_openai_when_a_key_is_set(openai_settings: Settings) -> None:
    assert resolved_provider(openai_settings) == "openai"
    assert resolved_provider(Settings(workspace=openai_settings.workspace)) == "offline"


async def test_generate_sends_a_valid_json_request(openai_settings: Settings, fake_openai: FakeOpenAIImages) -> None:
    async with Client(build_server(openai_settings)) as client:
        result = await client.call_tool(
            "generate_image",
            {
                "prompt": "a lighthouse",
                "model": "gpt-image-2",
                "size": "2048x1152",
                "quality": "medium",
                "n": 2,
                "output_format": "webp",
                "output_compression": 40,
                "moderation": "low",
            },
        )
    data = structured(result)
    assert fake_openai.violations == []
    [req] = fake_openai.requests
    assert req.path == "/v1/images/generations"
    assert req.headers["authorization"] == "Bearer sk-test"
    assert req.json == {
        "model": "gpt-image-2",
        "prompt": "a lighthouse",
        "n": 2,
        "size": "2048x1152",
        "quality": "medium",
        "output_format": "webp",
        "output_compression": 40,
        "moderation": "low",
    }
    assert [(i["width"], i["height"], i["format"]) for i in data["images"]] == [(2048, 1152, "webp")] * 2
    assert data["request_id"] and data["request_id"].startswith("req_")
    assert data["usage"] == fake_openai.usage_log[0]
    assert data["cost_usd"] == pytest.approx(fake_openai.charged_usd, rel=1e-6)
    # the estimate made before the call matches the usage-based charge for the output tokens
    assert data["estimated_cost_usd"] == pytest.approx(data["cost_usd"], rel=0.01)
    sidecar = json.loads(Path(data["images"][0]["path"]).with_suffix(".json").read_text())
    assert sidecar["request_id"] == data["request_id"] and sidecar["usage"] == data["usage"]
    assert "sk-test" not in json.dumps(sidecar) + json.dumps(data)


async def test_edit_sends_multipart_images_and_an_rgba_mask(
    openai_settings: Settings, fake_openai: FakeOpenAIImages
) -> None:
    ws = openai_settings.workspace_path()
    first, second = png((1024, 1536), (200, 10, 10)), png((300, 300), (0, 0, 255))
    (ws / "a.png").write_bytes(first)
    (ws / "b.png").write_bytes(second)
    mask = Image.new("RGB", (512, 768), "black")
    mask.paste((255, 255, 255), (100, 100, 300, 400))  # white = edit, half size, same aspect
    mask.save(ws / "m.png")
    async with Client(build_server(openai_settings)) as client:
        result = await client.call_tool(
            "edit_image",
            {
                "prompt": "make it blue",
                "images": ["a.png", "b.png"],
                "mask": "m.png",
                "model": "gpt-image-2",
                "input_fidelity": "high",
                "size": "1024x1536",
            },
        )
    data = structured(result)
    assert fake_openai.violations == []
    [req] = fake_openai.requests
    assert req.path == "/v1/images/edits"
    assert [f.data for f in req.files["image[]"]] == [first, second]  # sent as they are, no re-encode
    sent_mask = req.files["mask"][0].image()
    assert sent_mask.mode == "RGBA" and sent_mask.size == (1024, 1536)
    alpha = sent_mask.getchannel("A")
    assert alpha.getbbox() is not None
    transparent = Image.eval(alpha, lambda a: 255 if a == 0 else 0).getbbox()
    assert transparent == (200, 200, 600, 800)
    assert "moderation" not in req.fields and "input_fidelity" not in req.fields
    assert any("input_fidelity" in w for w in data["warnings"])
    out = Image.open(data["images"][0]["path"])
    assert out.size == (1024, 1536)
    sidecar = json.loads(Path(data["images"][0]["path"]).with_suffix(".json").read_text())
    assert sidecar["inputs"][0]["sha256"] == hashlib.sha256(first).hexdigest()


async def test_input_fidelity_is_sent_to_gpt_image_1_5(
    openai_settings: Settings, fake_openai: FakeOpenAIImages
) -> None:
    (openai_settings.workspace_path() / "a.png").write_bytes(png((1024, 1024)))
    async with Client(build_server(openai_settings)) as client:
        structured(
            await client.call_tool(
                "edit_image", {"prompt": "x", "images": ["a.png"], "input_fidelity": "high", "quality": "low"}
            )
        )
    assert fake_openai.violations == []
    assert fake_openai.requests[0].fields["input_fidelity"] == ["high"]
    assert fake_openai.requests[0].fields["model"] == ["gpt-image-1.5"]


@pytest.mark.parametrize(
    ("scripted", "expected"),
    [
        (Scripted.moderation_blocked(), "safety system refused this request; reword the prompt"),
        (Scripted.insufficient_quota(), "no quota left"),
        (Scripted.unverified_org(), "verified OpenAI organisation"),
        (Scripted.server_error(501), "HTTP 501"),
    ],
)
async def test_upstream_failures_become_actionable_tool_errors(
    openai_settings: Settings, fake_openai: FakeOpenAIImages, scripted: Scripted, expected: str
) -> None:
    fake_openai.script.append(scripted)
    async with Client(build_server(openai_settings)) as client:
        result = await client.call_tool("generate_image", {"prompt": "x"})
        assert len(fake_openai.requests) == 1  # never retried
        text = error_text(result)
        assert expected in text
        assert "request id req_" in text
        # the server keeps working after a failure
        structured(await client.call_tool("generate_image", {"prompt": "y", "quality": "low"}))


async def test_unknown_model_and_bad_key(workspace_dir: Path, fake_openai: FakeOpenAIImages) -> None:
    settings = Settings(
        workspace=workspace_dir, openai_api_key="sk-wrong-key-123456", openai_base_url=fake_openai.base_url
    )
    async with Client(build_server(settings)) as client:
        bad_key = error_text(await client.call_tool("generate_image", {"prompt": "x"}))
    assert "OPENAI_API_KEY" in bad_key and "sk-wrong-key-123456" not in bad_key
    good = Settings(workspace=workspace_dir, openai_api_key="sk-test", openai_base_url=fake_openai.base_url)
    fake_openai.reset()
    fake_openai.models = fake_openai.models - {"gpt-image-2"}  # a catalog model this upstream does not serve
    async with Client(build_server(good)) as client:
        unknown = error_text(await client.call_tool("generate_image", {"prompt": "x", "model": "gpt-image-9"}))
        assert fake_openai.requests == []  # refused before sending: not in the catalog
        text = error_text(await client.call_tool("generate_image", {"prompt": "x", "model": "gpt-image-2"}))
    assert "not in Easel's catalog" in unknown and "does not serve this model" in text


async def test_nothing_is_sent_for_an_invalid_request(openai_settings: Settings, fake_openai: FakeOpenAIImages) -> None:
    async with Client(build_server(openai_settings)) as client:
        error_text(
            await client.call_tool("generate_image", {"prompt": "x", "model": "gpt-image-2", "size": "1000x1000"})
        )
        error_text(await client.call_tool("edit_image", {"prompt": "x", "images": ["../x.png"]}))
    assert fake_openai.requests == []


async def test_unreachable_base_url(workspace_dir: Path) -> None:
    settings = Settings(
        workspace=workspace_dir, openai_api_key="sk-test", openai_base_url="http://127.0.0.1:9/v1", connect_timeout_s=2
    )
    async with Client(build_server(settings)) as client:
        text = error_text(await client.call_tool("generate_image", {"prompt": "x"}))
    assert "could not reach the image service" in text


@pytest.mark.parametrize(
    ("script", "requests"),
    [
        ([Scripted.rate_limit(retry_after=7)], 2),
        ([Scripted.server_error(503), Scripted.server_error(502)], 3),
        ([Scripted.garbage()], 2),
        ([Scripted.connection_reset()], 2),
    ],
)
async def test_transient_failures_are_retried_and_each_attempt_is_a_ledger_row(
    openai_settings: Settings, fake_openai: FakeOpenAIImages, script: list[Scripted], requests: int
) -> None:
    fake_openai.script.extend(script)
    server = build_server(openai_settings)
    async with Client(server) as client:
        data = structured(await client.call_tool("generate_image", {"prompt": "x", "quality": "low"}))
    assert len(fake_openai.requests) == requests and data["attempts"] == requests
    rows = server.studio.ledger.rows()
    assert [r["status"] for r in rows] == ["error"] * (requests - 1) + ["ok"]
    assert rows[-1]["cost_usd"] == pytest.approx(data["cost_usd"])


async def test_persistent_5xx_gives_up_after_three_attempts(
    openai_settings: Settings, fake_openai: FakeOpenAIImages
) -> None:
    fake_openai.script.extend([Scripted.server_error(500)] * 5)
    async with Client(build_server(openai_settings)) as client:
        text = error_text(await client.call_tool("generate_image", {"prompt": "x"}))
    assert "HTTP 500" in text and len(fake_openai.requests) == 3
