"""Every image tool through a real MCP client (in memory) on the offline provider."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from mcp import Client
from PIL import Image

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from tests.helpers import error_text, png, previews, result_bytes, structured

pytestmark = pytest.mark.anyio
IMAGE_TOOLS = ("generate_image", "edit_image", "inpaint", "outpaint")


async def test_tools_are_listed_with_flat_schemas(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert {"generate_image", "edit_image"} <= set(tools)
    for tool in tools.values():
        schema = tool.input_schema
        assert not {"anyOf", "oneOf", "allOf"} & set(schema), tool.name
        assert schema["type"] == "object"
        for name, prop in schema["properties"].items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"
        assert tool.output_schema is not None and tool.annotations is not None
        if tool.name in IMAGE_TOOLS:
            assert "images" in tool.output_schema["properties"]
            assert tool.annotations.read_only_hint is False
        elif tool.name in ("estimate_cost", "get_job"):
            assert tool.annotations.read_only_hint is True


async def test_generate_writes_files_sidecars_and_a_small_result(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        result = await client.call_tool(
            "generate_image", {"prompt": "A red fox in snow", "size": "landscape", "n": 2, "quality": "high"}
        )
    data = structured(result)
    assert data["provider"] == "offline" and data["operation"] == "generate"
    assert data["cost_usd"] == 0.0 and data["estimated_cost_usd"] > 0
    assert any("no AI model was used" in w for w in data["warnings"])
    assert len(data["images"]) == 2
    for image in data["images"]:
        path = Path(image["path"])
        assert path.is_file() and path.is_relative_to(offline_settings.workspace_path().resolve())
        assert (image["width"], image["height"]) == (1536, 1024)
        assert Image.open(path).size == (1536, 1024)
        assert image["uri"] == f"easel://images/{image['id']}"
        assert path.name.startswith("a-red-fox-in-snow-")
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert sidecar["prompt"] == "A red fox in snow"
        assert sidecar["parameters"]["size"] == "1536x1024" and sidecar["parameters"]["quality"] == "high"
        assert sidecar["provider"] == "offline" and sidecar["ai_generated"] is False
        assert sidecar["sha256"] == image["sha256"]
    # Text mirrors the structured content; no base64 inside structuredContent.
    assert json.loads(result.content[0].text) == data
    assert "base64" not in json.dumps(data) and max(len(str(v)) for v in data.values()) < 2000
    kinds = [b.type for b in result.content]
    assert kinds.count("resource_link") == 2 and kinds.count("image") == 2


async def test_result_size_n4_1536x1024_under_budget(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        result = await client.call_tool("generate_image", {"prompt": "city at night", "size": "1536x1024", "n": 4})
    structured(result)
    assert result_bytes(result) < 200_000 * 4 // 3 + 10_000  # base64 of 200 KB of previews + JSON
    total_preview_bytes = sum(len(b.data) * 3 // 4 for b in result.content if b.type == "image")
    assert total_preview_bytes <= 200_000
    assert all(max(p.size) <= 768 for p in previews(result))


async def test_preview_none_and_full(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        none = await client.call_tool("generate_image", {"prompt": "a", "preview": "none"})
        full = await client.call_tool("generate_image", {"prompt": "b", "size": "square", "preview": "full"})
    assert [b.type for b in none.content] == ["text", "resource_link"]
    data = structured(full)
    full_previews = previews(full)
    assert full_previews[0].size == (1024, 1024) or any("too large" in w for w in data["warnings"])


async def test_resource_serves_the_image(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        data = structured(await client.call_tool("generate_image", {"prompt": "x", "output_format": "webp"}))
        image = data["images"][0]
        read = await client.read_resource(image["uri"])
    content = read.contents[0]
    assert content.mime_type == "image/webp"
    import base64

    assert base64.b64decode(content.blob) == Path(image["path"]).read_bytes()


async def test_edit_with_black_and_white_mask_changes_only_the_painted_area(offline_settings: Settings) -> None:
    ws = offline_settings.workspace_path()
    (ws / "src.png").write_bytes(png((512, 512), (10, 200, 30)))
    mask = Image.new("L", (512, 512), 0)
    mask.paste(255, (100, 100, 200, 220))
    mask.save(ws / "mask.png")
    async with Client(build_server(offline_settings)) as client:
        result = await client.call_tool(
            "edit_image", {"prompt": "a blue door", "images": ["src.png"], "mask": "mask.png"}
        )
    data = structured(result)
    out = Image.open(data["images"][0]["path"]).convert("RGB")
    src = Image.new("RGB", (512, 512), (10, 200, 30))
    assert out.size == (512, 512)
    assert out.crop((0, 0, 512, 100)).tobytes() == src.crop((0, 0, 512, 100)).tobytes()
    assert out.crop((0, 220, 512, 512)).tobytes() == src.crop((0, 220, 512, 512)).tobytes()
    assert out.crop((100, 100, 200, 220)).tobytes() != src.crop((100, 100, 200, 220)).tobytes()
    sidecar = json.loads(Path(data["images"][0]["path"]).with_suffix(".json").read_text())
    assert sidecar["mask"]["convention"] == "white"
    assert sidecar["inputs"][0]["path"] == "src.png"


async def test_edit_accepts_ids_from_earlier_results(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        first = structured(await client.call_tool("generate_image", {"prompt": "a cat", "size": "square"}))
        image_id = first["images"][0]["id"]
        edited = structured(await client.call_tool("edit_image", {"prompt": "add a hat", "images": [image_id]}))
    sidecar = json.loads(Path(edited["images"][0]["path"]).with_suffix(".json").read_text())
    assert sidecar["parents"] == [image_id]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"prompt": "x", "model": "gpt-image-2", "size": "1000x1000"}, "multiples of 16"),
        ({"prompt": "x", "model": "dall-e-3"}, "retired"),
        ({"prompt": "   "}, "prompt is empty"),
        ({"prompt": "x", "background": "transparent", "output_format": "jpeg"}, "png or webp"),
    ],
)
async def test_bad_generate_arguments_become_clear_tool_errors(
    offline_settings: Settings, args: dict[str, object], expected: str
) -> None:
    async with Client(build_server(offline_settings)) as client:
        result = await client.call_tool("generate_image", args)
    assert expected in error_text(result)


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        (["../../etc/passwd"], "no file"),
        (["/etc/hostname"], "outside the workspace"),
        (["0123456789ab"], "no image with id"),
        (["notes.txt"], ""),
    ],
)
async def test_bad_edit_inputs_are_refused(offline_settings: Settings, images: list[str], expected: str) -> None:
    (offline_settings.workspace_path() / "notes.txt").write_text("not an image")
    async with Client(build_server(offline_settings)) as client:
        result = await client.call_tool("edit_image", {"prompt": "x", "images": images})
    text = error_text(result)
    assert expected in text
    assert "Error executing tool edit_image" in text and len(text) > 40


async def test_transparent_background_is_honoured(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        data = structured(
            await client.call_tool("generate_image", {"prompt": "a product shot of a mug", "background": "transparent"})
        )
    img = Image.open(io.BytesIO(Path(data["images"][0]["path"]).read_bytes()))
    assert img.mode == "RGBA" and img.getextrema()[3][0] == 0


async def test_prompts_are_listed_with_arguments(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        got = await client.get_prompt("remove_object", {"image": "abc123abc123", "what": "the bin"})
    assert {"product_shot", "app_icon", "remove_object", "extend_to_banner"} <= set(prompts)
    assert [a.name for a in prompts["remove_object"].arguments or []] == ["image", "what"]
    assert "inpaint" in got.messages[0].content.text and "the bin" in got.messages[0].content.text
