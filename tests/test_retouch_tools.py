"""inpaint and outpaint end to end: through the MCP client, against the fake OpenAI server and offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client
from PIL import Image, ImageDraw

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from tests.fakes.openai_images import FakeOpenAIImages
from tests.helpers import error_text, structured

pytestmark = pytest.mark.anyio


def _photo(path: Path, size: tuple[int, int]) -> Image.Image:
    """A photo-like test image: a gradient with shapes, so that every pixel differs from its neighbours."""
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(img)
    draw.ellipse((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill=(200, 40, 40))
    draw.rectangle((size[0] // 2, size[1] // 2, size[0] - 10, size[1] - 10), fill=(30, 160, 90))
    img.save(path)
    return img


@pytest.fixture
def openai_settings(workspace_dir: Path, fake_openai: FakeOpenAIImages) -> Settings:
    return Settings(workspace=workspace_dir, openai_api_key="sk-test", openai_base_url=fake_openai.base_url)


def _transparent_bbox(mask: Image.Image) -> tuple[int, int, int, int] | None:
    return mask.getchannel("A").point(lambda a: 255 if a == 0 else 0).getbbox()


async def test_inpaint_box_on_gpt_image_1_5(openai_settings: Settings, fake_openai: FakeOpenAIImages) -> None:
    src = _photo(openai_settings.workspace_path() / "street.png", (1200, 800))
    async with Client(build_server(openai_settings)) as client:
        result = await client.call_tool(
            "inpaint",
            {
                "image": "street.png",
                "prompt": "remove the person",
                "regions": [{"x": 120, "y": 80, "width": 300, "height": 400}],
                "quality": "low",
                "feather": 0,
            },
        )
    data = structured(result)
    assert fake_openai.violations == []
    [req] = fake_openai.requests
    sent = req.files["image[]"][0].image()
    mask = req.files["mask"][0].image()
    assert sent.size == mask.size == (1536, 1024) and mask.mode == "RGBA"
    assert req.fields["size"] == ["1536x1024"]
    box = _transparent_bbox(mask)
    assert box is not None
    expected = (120 * 1.28, 80 * 1.28, 420 * 1.28, 480 * 1.28)
    assert all(abs(a - b) <= 1 for a, b in zip(box, expected, strict=True))
    out = Image.open(data["images"][0]["path"]).convert("RGB")
    assert out.size == (1200, 800)
    # every pixel outside the box is exactly the source pixel
    outside = Image.new("L", (1200, 800), 255)
    outside.paste(0, (120, 80, 420, 480))
    assert (
        Image.composite(out, Image.new("RGB", out.size), outside).tobytes()
        == Image.composite(src, Image.new("RGB", src.size), outside).tobytes()
    )
    # inside, the fake painted magenta where the mask was transparent
    assert out.getpixel((270, 280)) == (255, 0, 255)
    assert data["geometry"]["request_size"] == [1536, 1024] and data["operation"] == "inpaint"
    sidecar = json.loads(Path(data["images"][0]["path"]).with_suffix(".json").read_text())
    assert sidecar["geometry"]["regions"][0]["x"] == 120 and sidecar["parents"] == []


async def test_inpaint_feather_band_blends_and_keeps_the_rest(openai_settings: Settings) -> None:
    src = _photo(openai_settings.workspace_path() / "a.png", (1024, 1024))
    async with Client(build_server(openai_settings)) as client:
        data = structured(
            await client.call_tool(
                "inpaint",
                {
                    "image": "a.png",
                    "prompt": "x",
                    "regions": [{"x": 400, "y": 400, "width": 200, "height": 200, "shape": "ellipse"}],
                    "feather": 8,
                },
            )
        )
    out = Image.open(data["images"][0]["path"]).convert("RGB")
    far = (0, 0, 1024, 380)
    assert out.crop(far).tobytes() == src.crop(far).tobytes()
    assert out.getpixel((500, 500)) == (255, 0, 255)


async def test_inpaint_with_a_black_mask_of_another_size(
    openai_settings: Settings, fake_openai: FakeOpenAIImages
) -> None:
    ws = openai_settings.workspace_path()
    _photo(ws / "b.png", (1024, 1536))
    mask = Image.new("L", (512, 768), 255)
    mask.paste(0, (0, 0, 256, 384))  # black = edit, top-left quarter
    mask.save(ws / "mask.png")
    async with Client(build_server(openai_settings)) as client:
        data = structured(
            await client.call_tool(
                "inpaint",
                {
                    "image": "b.png",
                    "prompt": "x",
                    "mask": "mask.png",
                    "mask_convention": "black",
                    "model": "gpt-image-2",
                },
            )
        )
    sent_mask = fake_openai.requests[0].files["mask"][0].image()
    assert sent_mask.size == (1024, 1536) and _transparent_bbox(sent_mask) == (0, 0, 512, 768)
    assert data["geometry"]["mask_convention"] == "black"
    assert fake_openai.violations == []


async def test_outpaint_to_16_9(openai_settings: Settings, fake_openai: FakeOpenAIImages) -> None:
    src = _photo(openai_settings.workspace_path() / "p.png", (1024, 1024))
    async with Client(build_server(openai_settings)) as client:
        data = structured(
            await client.call_tool(
                "outpaint", {"image": "p.png", "prompt": "wider beach", "aspect_ratio": "16:9", "model": "gpt-image-2"}
            )
        )
    assert fake_openai.violations == []
    [req] = fake_openai.requests
    mask = req.files["mask"][0].image()
    g = data["geometry"]
    assert g["canvas_size"] == [1820, 1024] and g["source_box"]["x"] == 398
    rb = g["request_source_box"]
    assert _transparent_bbox(mask) == (0, 0, *g["request_size"])
    assert mask.getchannel("A").getpixel((rb["x"] + rb["width"] // 2, rb["y"] + rb["height"] // 2)) == 255
    out = Image.open(data["images"][0]["path"]).convert("RGB")
    assert out.size == (1820, 1024)
    assert out.crop((398, 0, 398 + 1024, 1024)).tobytes() == src.tobytes()
    assert out.getpixel((10, 500)) == (255, 0, 255)


async def test_outpaint_pixels_per_side_offline(offline_settings: Settings) -> None:
    src = _photo(offline_settings.workspace_path() / "p.png", (800, 600))
    async with Client(build_server(offline_settings)) as client:
        data = structured(
            await client.call_tool("outpaint", {"image": "p.png", "prompt": "x", "right": 100, "bottom": 50})
        )
    out = Image.open(data["images"][0]["path"]).convert("RGB")
    assert out.size == (900, 650)
    assert out.crop((0, 0, 800, 600)).tobytes() == src.tobytes()
    assert out.crop((800, 0, 900, 650)).tobytes() != Image.new("RGB", (100, 650)).tobytes()


async def test_inpaint_offline_keeps_unmasked_pixels(offline_settings: Settings) -> None:
    src = _photo(offline_settings.workspace_path() / "p.png", (640, 480))
    async with Client(build_server(offline_settings)) as client:
        data = structured(
            await client.call_tool(
                "inpaint",
                {
                    "image": "p.png",
                    "prompt": "x",
                    "feather": 0,
                    "regions": [{"x": 10, "y": 10, "width": 50, "height": 60}],
                },
            )
        )
    out = Image.open(data["images"][0]["path"]).convert("RGB")
    assert out.crop((0, 100, 640, 480)).tobytes() == src.crop((0, 100, 640, 480)).tobytes()
    assert out.crop((10, 10, 60, 70)).tobytes() != src.crop((10, 10, 60, 70)).tobytes()


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("inpaint", {"regions": [{"x": 900, "y": 0, "width": 200, "height": 100}]}, "past the right edge"),
        ("inpaint", {"regions": [{"x": 0, "y": 0, "width": 1024, "height": 1024}]}, "edit_image"),
        ("inpaint", {}, "exactly one"),
        ("inpaint", {"regions": [{"x": 0, "y": 0, "width": 10, "height": 10}], "mask": "m.png"}, "exactly one"),
        ("inpaint", {"mask": "wrong.png"}, "aspect"),
        ("inpaint", {"mask": "empty.png"}, "nothing"),
        ("inpaint", {"regions": [{"x": 0, "y": 0, "width": 0, "height": 10}]}, "greater than 0"),
        ("outpaint", {}, "nothing to grow"),
        ("outpaint", {"aspect_ratio": "4:1"}, "3:2"),
        ("outpaint", {"aspect_ratio": "16:9", "left": 10}, "not both"),
        ("outpaint", {"aspect_ratio": "banana"}, "aspect"),
    ],
)
async def test_bad_input_is_refused_before_any_request(
    openai_settings: Settings, fake_openai: FakeOpenAIImages, tool: str, args: dict[str, object], expected: str
) -> None:
    ws = openai_settings.workspace_path()
    _photo(ws / "src.png", (1024, 1024))
    Image.new("L", (300, 200), 255).save(ws / "wrong.png")
    Image.new("L", (1024, 1024), 0).save(ws / "empty.png")
    Image.new("L", (1024, 1024), 255).save(ws / "m.png")
    async with Client(build_server(openai_settings)) as client:
        text = error_text(await client.call_tool(tool, {"image": "src.png", "prompt": "x", **args}))
    assert expected in text, text
    assert fake_openai.requests == []


async def test_unreadable_and_huge_inputs(openai_settings: Settings, fake_openai: FakeOpenAIImages) -> None:
    ws = openai_settings.workspace_path()
    (ws / "fake.png").write_bytes(b"this is not a png")
    (ws / "trunc.png").write_bytes((ws / "fake.png").read_bytes())
    good = ws / "good.png"
    _photo(good, (512, 512))
    (ws / "truncated.png").write_bytes(good.read_bytes()[:2000])
    async with Client(build_server(openai_settings)) as client:
        for name in ("fake.png", "truncated.png"):
            text = error_text(
                await client.call_tool(
                    "inpaint", {"image": name, "prompt": "x", "regions": [{"x": 0, "y": 0, "width": 10, "height": 10}]}
                )
            )
            assert "image" in text
    assert fake_openai.requests == []


async def test_dry_run_prices_inpaint_without_sending(openai_settings: Settings, fake_openai: FakeOpenAIImages) -> None:
    _photo(openai_settings.workspace_path() / "p.png", (1200, 800))
    async with Client(build_server(openai_settings)) as client:
        data = structured(
            await client.call_tool(
                "inpaint",
                {
                    "image": "p.png",
                    "prompt": "x",
                    "regions": [{"x": 1, "y": 1, "width": 5, "height": 5}],
                    "quality": "high",
                    "dry_run": True,
                },
            )
        )
    assert data["dry_run"] is True and data["images"] == [] and fake_openai.requests == []
    assert data["estimated_cost_usd"] > 0.19 and data["geometry"]["request_size"] == [1536, 1024]
    files = [p for p in openai_settings.workspace_path().rglob("*") if p.is_file() and ".easel" not in p.parts]
    assert [p.name for p in files] == ["p.png"]
