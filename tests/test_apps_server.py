"""MCP Apps on the server side: the views are resources with the Apps MIME type, the image tools link
to the viewer, save_mask is app-only, and a client without Apps sees exactly the same results."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.extension import advertise
from PIL import Image

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from tests.helpers import error_text, structured

pytestmark = pytest.mark.anyio


async def test_views_are_listed_and_linked(offline_settings: Settings) -> None:
    ui = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
    async with Client(build_server(offline_settings), extensions=[ui]) as client:
        resources = {str(r.uri): r for r in (await client.list_resources()).resources}
        tools = {t.name: t for t in (await client.list_tools()).tools}
        viewer = await client.read_resource("ui://easel/viewer.html")
        caps = client.server_capabilities
    assert [uri for uri in resources if uri.startswith("ui://")] == ["ui://easel/viewer.html"]  # no painter.html
    assert resources["ui://easel/viewer.html"].mime_type == "text/html;profile=mcp-app"
    assert resources["ui://easel/viewer.html"].meta == {"ui": {"prefersBorder": True}}
    html = viewer.contents[0].text
    assert html.startswith("<!doctype html>") or html.lower().startswith("<!doctype html>")
    assert len(html.encode()) < 150_000
    for name in ("generate_image", "edit_image", "inpaint", "outpaint", "get_job"):
        assert tools[name].meta == {"ui": {"resourceUri": "ui://easel/viewer.html"}}
    assert tools["save_mask"].meta == {"ui": {"resourceUri": "ui://easel/viewer.html", "visibility": ["app"]}}
    assert "estimate_cost" in tools and tools["estimate_cost"].meta is None
    assert caps.extensions and "io.modelcontextprotocol/ui" in caps.extensions


async def test_a_client_without_apps_gets_the_same_result(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        data = structured(await client.call_tool("generate_image", {"prompt": "x", "quality": "low"}))
    assert set(data) >= {"images", "cost_usd", "provider"} and "ui" not in data


async def test_save_mask_writes_a_checked_png(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        made = structured(await client.call_tool("generate_image", {"prompt": "x", "size": "landscape"}))
        image_id = made["images"][0]["id"]
        mask = Image.new("L", (1536, 1024), 0)
        mask.paste(255, (100, 100, 400, 300))
        buf = io.BytesIO()
        mask.save(buf, "PNG")
        saved = structured(
            await client.call_tool(
                "save_mask", {"image": image_id, "mask_png_base64": base64.b64encode(buf.getvalue()).decode()}
            )
        )
        painted = structured(
            await client.call_tool(
                "inpaint", {"image": image_id, "prompt": "a boat", "mask": saved["path"], "mask_convention": "white"}
            )
        )
        wrong = Image.new("L", (100, 100))
        small = io.BytesIO()
        wrong.save(small, "PNG")
        refused = await client.call_tool(
            "save_mask", {"image": image_id, "mask_png_base64": base64.b64encode(small.getvalue()).decode()}
        )
        garbage = await client.call_tool("save_mask", {"image": image_id, "mask_png_base64": "not base64!"})
    assert (offline_settings.workspace_path() / saved["path"]).is_file() and saved["path"].startswith("masks/")
    assert painted["geometry"]["edit_bbox"] == [100, 100, 300, 200]
    assert "paint it at the image's size" in error_text(refused)
    assert "not valid base64" in error_text(garbage)
    assert not list(Path(offline_settings.workspace_path() / "masks").glob("*-*-*.png.part"))
