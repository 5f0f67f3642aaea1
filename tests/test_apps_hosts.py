"""MCP Apps in every host: negotiated on 2025-11-25 as on 2026-07-28, app-only tools listed only to hosts
with Apps, the viewer never reads a multi-MB original (a display rendition, or the result's previews when
the host cannot read resources), every message under 1 MiB, the model told the recent actions, and a
fixed container height honoured."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, BlobResourceContents
from PIL import Image

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from tests.ui_host.browser import (
    CHROMEDRIVER,
    CHROMIUM,
    on_host,
    open_view,
    severe_logs,
    shot,
    shown_images,
    start_chromium,
    wait,
)

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

    from tests.ui_host.harness import HostServer

UI = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
MIB = 1024 * 1024
PHOTO_ID = "0123456789ab"


def photo(workspace: Path) -> Path:
    """A 3840x2160 photo-like PNG (noise: the worst case for compression, ~25 MB) added by hand."""
    folder = workspace / "2026-12-01"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"harbour-{PHOTO_ID}.png"
    Image.frombytes("RGB", (3840, 2160), os.urandom(3840 * 2160 * 3)).save(path, compress_level=1)
    return path


def wire_size(model: Any) -> int:
    return len(json.dumps(model.model_dump(mode="json", by_alias=True, exclude_none=True)))


# ------------------------------------------------------------------ the server side
@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_apps_is_negotiated_on_both_versions(offline_settings: Settings, mode: str) -> None:
    async with Client(build_server(offline_settings), mode=mode, extensions=[UI]) as client:  # type: ignore[arg-type]
        caps = client.server_capabilities
        tools = {t.name for t in (await client.list_tools()).tools}
    assert caps.extensions and "io.modelcontextprotocol/ui" in caps.extensions, client.protocol_version
    assert "save_mask" in tools


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_host_without_apps_is_not_offered_app_only_tools(offline_settings: Settings, mode: str) -> None:
    async with Client(build_server(offline_settings), mode=mode) as client:  # type: ignore[arg-type]
        tools = {t.name: t for t in (await client.list_tools()).tools}
        legacy_caps = client.server_capabilities if mode == "legacy" else None
    assert "save_mask" not in tools and "generate_image" in tools
    assert tools["generate_image"].meta == {"ui": {"resourceUri": "ui://easel/viewer.html"}}  # harmless hint
    assert legacy_caps is None or not legacy_caps.extensions  # only advertised to a client that declared it


@pytest.mark.anyio
async def test_the_display_rendition_of_a_large_photo_fits_one_message(offline_settings: Settings) -> None:
    original = photo(offline_settings.workspace_path())
    assert original.stat().st_size > 20 * MIB
    async with Client(build_server(offline_settings), extensions=[UI]) as client:
        read = await client.read_resource(f"easel://images/{PHOTO_ID}/display")
        with pytest.raises(MCPError) as missing:
            await client.read_resource("easel://images/fedcba987654/display")
    [content] = read.contents
    assert isinstance(content, BlobResourceContents) and content.mime_type == "image/jpeg"
    assert wire_size(read) < MIB
    import base64
    import io

    shown = Image.open(io.BytesIO(base64.b64decode(content.blob)))
    assert shown.size == (2048, 1152)
    assert missing.value.error.code == INVALID_PARAMS


# ------------------------------------------------------------------ the viewer in a browser
@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chrome]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)")
    pytest.importorskip("selenium", reason="needs selenium (the dev extra)")
    driver = start_chromium(tmp_path_factory.mktemp("chromium"))
    yield driver
    driver.quit()


@pytest.fixture
def host(browser: Chrome, tmp_path: Path) -> Iterator[HostServer]:
    from tests.ui_host.harness import HostServer

    (tmp_path / "workspace").mkdir()
    with HostServer(tmp_path / "workspace") as server:
        yield server
        view_errors = on_host(browser, "window.host.logs.filter((l) => l.level === 'error')")
    errors = severe_logs(browser)
    assert not errors, errors
    assert not view_errors, view_errors  # uncaught errors inside the view, reported through the bridge


def test_a_host_without_server_resources_shows_the_previews(browser: Chrome, host: HostServer) -> None:
    args = {"prompt": "A lighthouse at dusk", "size": "1536x1024", "n": 2}
    open_view(browser, host, "viewer", "generate_image", args, resources="0")
    shown = shown_images(browser, 2, "generate")
    shot(browser, "viewer_no_resources.png")
    result = on_host(browser, "window.host.toolResult")
    previews = [f"data:{b['mimeType']};base64,{b['data']}" for b in result["content"] if b["type"] == "image"]
    assert [s["src"] for s in shown] == previews  # the previews the result carried, nothing read
    assert all(s["w"] <= 768 for s in shown)
    assert not [c for c in host.calls if c["method"] == "resources/read"]
    assert "A lighthouse at dusk" in browser.find_element("tag name", "body").text


def test_a_large_photo_is_shown_from_its_display_rendition(browser: Chrome, host: HostServer) -> None:
    photo(host.workspace)
    args = {"image": PHOTO_ID, "prompt": "a boat", "regions": [{"x": 100, "y": 100, "width": 300, "height": 200}]}
    open_view(browser, host, "viewer", "inpaint", args)
    [shown] = shown_images(browser, 1, "inpaint")
    shot(browser, "viewer_large_photo.png")
    result = on_host(browser, "window.host.toolResult.structuredContent")
    [image] = result["images"]
    assert (image["width"], image["height"]) == (3840, 2160) and image["bytes"] > 20 * MIB
    assert (shown["w"], shown["h"]) == (2048, 1152) and shown["src"].startswith("data:image/jpeg;base64,")
    reads = [c["params"]["uri"] for c in host.calls if c["method"] == "resources/read"]
    assert reads == [image["uri"] + "/display"]
    assert host.replies and all(size < MIB for _, size in host.replies), host.replies
    text = browser.find_element("tag name", "body").text
    assert "3840×2160" in text


def test_a_fixed_container_height_is_honoured(browser: Chrome, host: HostServer) -> None:
    args = {"prompt": "A tall tower", "size": "1024x1536", "n": 2}
    open_view(browser, host, "viewer", "generate_image", args, height="420")
    shown_images(browser, 2, "generate")
    layout = wait(
        browser,
        """const m = document.querySelector('main'), r = document.documentElement.getBoundingClientRect();
        return m && {html: r.height, scroll: m.scrollHeight, client: m.clientHeight,
                     fixed: document.documentElement.classList.contains('fixed-height')};""",
    )
    shot(browser, "viewer_fixed_height.png")
    assert layout["fixed"] and layout["html"] == 420
    assert layout["client"] <= 420 < layout["scroll"]  # the content scrolls inside the fixed height
    sizes = on_host(browser, "window.host.sizes")
    assert sizes and all(s["height"] == 420 for s in sizes)


def test_the_model_context_describes_the_recent_actions(browser: Chrome, host: HostServer) -> None:
    open_view(browser, host, "viewer", "generate_image", {"prompt": "A harbour", "size": "1024x1024"})
    shown_images(browser, 1, "generate")
    for prompt in ("add a moon", "make it snow"):
        browser.find_element("css selector", "textarea[aria-label='Edit prompt']").send_keys(prompt)
        browser.find_element("css selector", "button[data-action='edit']").click()
        wait(browser, f"return document.body.innerText.includes('{prompt}')")
    shown_images(browser, 1, "edit")
    updates = on_host(browser, "window.host.modelContext")
    assert len(updates) == 2
    latest = updates[-1]["content"][0]["text"]
    assert "add a moon" in latest and "make it snow" in latest, latest  # the session, not only the last step
    assert latest.index("add a moon") < latest.index("make it snow") and latest.count("edit_image") == 2
