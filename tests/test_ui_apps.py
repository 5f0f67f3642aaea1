"""The MCP Apps view (ui://easel/viewer.html, with the mask painter inside it).

The served HTML is checked as text; then the real views run in headless Chromium (Selenium), inside a
stand-in host page (tests/ui_host) that speaks the MCP Apps bridge and forwards tools/call and
resources/read to a real Easel server on the offline provider. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from easel_mcp.ui import APP_NAMES, MAX_HTML_BYTES, load_app_html
from tests.ui_host.browser import (
    CHROMEDRIVER,
    CHROMIUM,
    assert_read_through_host,
    capsule,
    count,
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

UI_DIR = Path(__file__).parents[1] / "server" / "easel_mcp" / "ui"
SOURCES = ("bridge.js", "common.js", "geometry.js", "painter-ui.js", "painter.js", "viewer.js", "app.css")
SIZE = (1536, 1024)


# ------------------------------------------------------------------ the served documents
@pytest.mark.parametrize("name", APP_NAMES)
def test_each_view_is_one_self_contained_document(name: str) -> None:
    html = load_app_html(name)
    assert len(html.encode()) <= MAX_HTML_BYTES
    assert not re.search(r"https?://", html), "no external references (no CDN, no network)"
    assert not re.search(r"<(script|img|link|iframe)\b[^>]*\b(src|href)\s*=", html, re.IGNORECASE)
    for source in SOURCES:
        assert (UI_DIR / source).read_text().strip() in html, f"{source} is inlined"
    assert html.count("<script>") == 6 and html.count("<style>") == 1
    assert load_app_html(name) is html  # built once
    template = (UI_DIR / f"{name}.html").read_text()
    assert not re.search(r"\son[a-z]+\s*=", template), "CSP-friendly: no inline event handler attributes"


def test_the_scripts_avoid_eval_and_html_injection() -> None:
    for source in SOURCES[:-1]:
        text = (UI_DIR / source).read_text()
        assert not re.search(r"\beval\(|new Function|innerHTML|outerHTML|document\.write", text), source
    node = shutil.which("node")
    if node:
        for source in SOURCES[:-1]:
            subprocess.run([node, "--check", str(UI_DIR / source)], check=True)


def test_only_known_views_are_built() -> None:
    with pytest.raises(ValueError, match="unknown Easel view"):
        load_app_html("../app")


# ------------------------------------------------------------------ the browser
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
    errors = severe_logs(browser)
    assert not errors, errors  # no CSP violation, no failed load, no uncaught exception


def test_without_a_host_the_view_says_so(browser: Chrome, host: HostServer) -> None:
    open_view(browser, host, "viewer", silent="1")
    text = wait(browser, "const t = document.body.innerText; return t.includes('needs a host') && t", timeout=15)
    assert "supports MCP Apps" in text and not host.calls
    shot(browser, "no_host.png")


def test_geometry_maps_views_and_rasterises_masks(browser: Chrome, host: HostServer) -> None:
    open_view(browser, host, "viewer", silent="1")
    out = browser.execute_script("""
        const G = EaselGeometry, v = {scale: 0.4, panX: 13, panY: -7};
        const p = G.viewToImage(v, 213, 93), q = G.imageToView(v, p.x, p.y);
        const z = G.zoomAt(v, 2.5, 300, 120), za = G.viewToImage(z, 300, 120), va = G.viewToImage(v, 300, 120);
        const fit = G.fitView(1536, 1024, 800, 600);
        const w = 200, h = 100, m = new Uint8Array(w * h);
        G.paintStroke(m, w, h, [20, 50, 180, 50], 10, 1);
        const stroke = G.countMarked(m);
        const e = new Uint8Array(w * h); G.paintShape(e, w, h, 'ellipse', {x: 20, y: 10}, {x: 180, y: 90}, 1);
        const r = new Uint8Array(w * h); G.paintShape(r, w, h, 'rect', {x: -5, y: 10.2}, {x: 40, y: 30}, 1);
        const acts = [{type: 'rect', value: 1, a: {x: 0, y: 0}, b: {x: 100, y: 100}},
                      {type: 'stroke', value: 0, radius: 5, points: [50, 0, 50, 100]}, {type: 'invert'}];
        return {p, q, za, va, fit, stroke, ellipse: G.countMarked(e), rect: G.countMarked(r),
                replayed: G.countMarked(G.replay(acts, w, h)),
                cleared: G.countMarked(G.replay([...acts, {type: 'clear'}], w, h)),
                clamped: G.clampPan({scale: 2, panX: 50, panY: -5000}, 100, 100, 150, 150)};""")
    assert out["p"] == {"x": 500, "y": 250} and out["q"] == {"x": 213, "y": 93}
    assert out["za"] == pytest.approx(out["va"])  # zoom keeps the pointed pixel under the pointer
    scale = 800 / 1536
    assert out["fit"] == {"scale": pytest.approx(scale), "panX": 0, "panY": pytest.approx((600 - 1024 * scale) / 2)}
    assert abs(out["stroke"] - (160 * 20 + 3.14159 * 100)) < 40  # a capsule: rectangle + two half discs
    assert abs(out["ellipse"] - 3.14159 * 80 * 40) < 60
    assert out["rect"] == 40 * 20  # clipped to the image, whole pixels
    assert out["replayed"] == 200 * 100 - (100 * 100 - 10 * 100)  # box, minus a 10 px band, inverted
    assert out["cleared"] == 0 and out["clamped"] == {"scale": 2, "panX": 0, "panY": -50}


def test_viewer_shows_the_result_and_edits_it_through_the_host(browser: Chrome, host: HostServer) -> None:
    args = {"prompt": "A lighthouse at dusk", "size": "1536x1024", "n": 2}
    open_view(browser, host, "viewer", "generate_image", args, echo="1")  # a host that echoes the view's calls
    shown = shown_images(browser, 2, "generate")
    result = on_host(browser, "window.host.toolResult.structuredContent")
    for img, expected in zip(shown, result["images"], strict=True):
        assert_read_through_host(host, img, expected)
    shot(browser, "viewer.png")
    text = browser.find_element("tag name", "body").text
    for fact in ("A lighthouse at dusk", "1536×1024 · PNG", result["images"][1]["relative_path"], "gpt-image", "$0"):
        assert fact in text
    shot(browser, "viewer.png")

    browser.find_elements("css selector", ".gallery figure")[1].click()
    browser.find_element("css selector", "textarea[aria-label='Edit prompt']").send_keys("make it night")
    browser.find_element("css selector", "button[data-action='edit']").click()
    [edited] = shown_images(browser, 1, "edit")
    assert host.tool_calls("edit_image")[-1]["arguments"] == {"prompt": "make it night", "images": [shown[1]["id"]]}
    assert (edited["w"], edited["h"]) == SIZE
    assert "edit_image" in on_host(browser, "JSON.stringify(window.host.modelContext)")

    from selenium.webdriver.support.select import Select

    ratio = Select(browser.find_element("css selector", "select[aria-label='Aspect ratio']"))
    ratio.select_by_visible_text("21:9")  # too wide for this model: the server's advice is shown
    browser.find_element("css selector", "button[data-action='outpaint']").click()
    error = wait(browser, "const s = document.querySelector('.status.error'); return s && s.textContent")
    assert "aspect_ratio 16:9" in error
    ratio.select_by_visible_text("16:9")
    browser.find_element("css selector", "button[data-action='outpaint']").click()
    [wide] = shown_images(browser, 1, "outpaint")
    assert host.tool_calls("outpaint")[-1]["arguments"]["aspect_ratio"] == "16:9"
    assert wide["w"] / wide["h"] == pytest.approx(16 / 9, rel=0.01) and wide["h"] == SIZE[1]
    shot(browser, "viewer_outpaint.png")

    browser.find_element("css selector", "button[data-action='paint']").click()  # the painter, in the viewer
    size = wait(browser, "const p = window.EaselPainter && EaselPainter.current; return p && p.ready && [p.w, p.h]")
    assert size == [wide["w"], wide["h"]]
    browser.find_element("xpath", "//button[text()='Back']").click()
    assert shown_images(browser, 1, "outpaint")[0]["id"] == wide["id"]


def test_a_running_call_is_followed_with_get_job(browser: Chrome, host: HostServer) -> None:
    open_view(browser, host, "viewer", "generate_image", {"prompt": "A red kite", "size": "1024x1024", "wait": False})
    [shown] = shown_images(browser, 1, "generate")
    first = on_host(browser, "window.host.toolResult.structuredContent")
    assert first["status"] == "running" and not first["images"]
    [poll, *_] = host.tool_calls("get_job")
    assert poll["arguments"] == {"job_id": first["job_id"], "wait_s": 20}
    assert (shown["w"], shown["h"]) == (1024, 1024)


def test_painter_mask_matches_the_strokes_at_full_resolution_and_inpaints(browser: Chrome, host: HostServer) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    open_view(
        browser,
        host,
        "viewer",
        "generate_image",
        {"prompt": "A quiet harbour", "size": "1536x1024"},
        theme="dark",
        echo="1",
    )
    shown_images(browser, 1, "generate")
    browser.find_element("css selector", "button[data-action='paint']").click()  # the painter opens in the viewer
    p = wait(
        browser,
        """const p = window.EaselPainter && EaselPainter.current;
        if (!p || !p.ready || !p.form.estimateLabel.textContent.includes('$')) return null;
        const r = p.canvas.getBoundingClientRect();
        return {view: p.view, w: p.w, h: p.h, cw: r.width, ch: r.height};""",
    )
    assert (p["w"], p["h"]) == SIZE and p["view"]["scale"] < 1  # zoom at fit
    canvas = browser.find_element("css selector", ".stage canvas")
    scale, pan_x, pan_y = p["view"]["scale"], p["view"]["panX"], p["view"]["panY"]

    def drag(tool: str, *points: tuple[float, float], radius: int | None = None) -> None:
        browser.find_element("css selector", f"button[data-tool='{tool}']").click()
        if radius is not None:
            browser.execute_script(f"EaselPainter.current.setRadius({radius})")
        chain = ActionChains(browser)
        for i, (x, y) in enumerate(points):  # image px -> offset from the canvas centre in CSS px
            chain.move_to_element_with_offset(
                canvas, round(pan_x + x * scale - p["cw"] / 2), round(pan_y + y * scale - p["ch"] / 2)
            )
            chain = chain.click_and_hold() if i == 0 else chain
        chain.release().perform()

    box, oval = ((200, 180), (620, 520)), ((900, 560), (1300, 900))
    stroke, erase = ((150, 760), (500, 880), (800, 700)), ((410, 140), (410, 560))
    drag("rect", *box)
    drag("ellipse", *oval)
    drag("brush", *stroke, radius=48)
    drag("eraser", *erase, radius=24)
    drag("rect", (1200, 100), (1450, 300))
    browser.find_element("css selector", "button[title^='Undo']").click()  # the last box goes
    for label in ("+", "+", "Fit"):
        browser.find_element("xpath", f"//button[text()='{label}']").click()
    assert browser.execute_script("return EaselPainter.current.view")["scale"] == pytest.approx(scale)
    browser.find_element("css selector", "textarea[aria-label='Prompt']").send_keys("boats at anchor")
    from selenium.webdriver.support.select import Select

    Select(browser.find_element("css selector", "select[aria-label='Quality']")).select_by_visible_text("low")
    wait(
        browser,
        """const f = EaselPainter.current.form;
        return f.estimates > 1 && f.estimateLabel.textContent.includes('$')""",
    )
    shot(browser, "painter.png")

    browser.find_element("css selector", "button[data-action='submit']").click()
    [new] = shown_images(browser, 1, "inpaint")
    shot(browser, "painter_result.png")

    expected = Image.new("L", SIZE, 0)
    draw = ImageDraw.Draw(expected)
    draw.rectangle((*box[0], box[1][0] - 1, box[1][1] - 1), fill=255)
    draw.ellipse((*oval[0], oval[1][0] - 1, oval[1][1] - 1), fill=255)
    capsule(draw, stroke, 48, 255)
    capsule(draw, erase, 24, 0)
    [png] = host.masks
    mask = Image.open(io.BytesIO(png))
    assert mask.size == SIZE, "the mask has the image's exact pixel size"
    painted = mask.convert("L")
    assert {v for v, n in enumerate(painted.histogram()) if n} <= {0, 255}
    both = count(ImageChops.logical_and(painted.convert("1"), expected.convert("1")))
    either = count(ImageChops.logical_or(painted.convert("1"), expected.convert("1")))
    assert both / either > 0.95, f"IoU {both / either:.3f}"
    near = expected.filter(ImageFilter.MaxFilter(13))  # 6 px around the intended shapes
    assert count(ImageChops.subtract(painted, near).convert("1")) < 20, "nothing painted far from the strokes"

    [call] = host.tool_calls("inpaint")
    image_id = on_host(browser, "window.host.toolResult.structuredContent.images[0].id")
    assert call["arguments"] == {
        "image": image_id,
        "prompt": "boats at anchor",
        "mask": call["arguments"]["mask"],
        "mask_convention": "white",
        "quality": "low",
    }
    assert (host.workspace / call["arguments"]["mask"]).is_file()  # the path save_mask answered
    estimates = host.tool_calls("estimate_cost")
    assert estimates[-1]["arguments"] == {"operation": "inpaint", "images": [image_id], "quality": "low"}
    assert (new["w"], new["h"]) == SIZE and new["id"] != image_id
    reads = [c["params"].get("uri", "") for c in host.calls if c["method"] == "resources/read"]
    assert any(uri.endswith(new["id"] + "/display") for uri in reads)
