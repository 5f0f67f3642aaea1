"""Selenium helpers for the browser tests of the Easel views: a headless Chromium that never downloads
anything, and small helpers to open a view in the stand-in host and look at it."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

    from tests.ui_host.harness import HostServer

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=920,1500",
    "--force-device-scale-factor=1",
)


def start_chromium(profile: Path) -> Chrome:
    """Debian's chromium through its chromedriver (explicit paths: Selenium Manager never runs)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    ARTIFACTS.mkdir(exist_ok=True)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def severe_logs(driver: Chrome) -> list[str]:
    """Console errors since the last call (CSP violations, failed loads, uncaught exceptions)."""
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [e["message"] for e in entries if e["level"] == "SEVERE"]


def open_view(
    driver: Chrome,
    host: HostServer,
    app: str,
    tool: str = "generate_image",
    args: dict[str, Any] | None = None,
    **query: str,
) -> None:
    """Load the host page making `tool(args)` with the view `app`, and switch into the view's iframe."""
    params = "".join(f"&{k}={v}" for k, v in query.items())
    driver.switch_to.default_content()
    driver.get(f"{host.url}/host.html?app={app}&tool={tool}&args={quote(json.dumps(args or {}))}{params}")
    driver.switch_to.frame(driver.find_element("id", "frame"))


def wait(driver: Chrome, script: str, timeout: float = 30) -> Any:
    """The first truthy value of `script` (a function body run in the view)."""
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: d.execute_script(script))


def on_host(driver: Chrome, expression: str) -> Any:
    """Evaluate `expression` in the host page (the sandboxed view cannot reach window.parent)."""
    driver.switch_to.default_content()
    value = driver.execute_script(f"return {expression}")
    driver.switch_to.frame(driver.find_element("id", "frame"))
    return value


def shot(driver: Chrome, name: str) -> None:
    """Screenshot of the host page with the view, in tests/artifacts/."""
    driver.switch_to.default_content()
    driver.save_screenshot(str(ARTIFACTS / name))
    driver.switch_to.frame(driver.find_element("id", "frame"))


def shown_images(driver: Chrome, count: int, operation: str) -> list[dict[str, Any]]:
    """The viewer's <img> elements once `count` images of a result of `operation` have loaded."""
    images: list[dict[str, Any]] = wait(
        driver,
        f"""
        const s = window.EaselViewer && EaselViewer.state.result;
        const imgs = [...document.querySelectorAll('img.result')];
        if (!s || s.operation !== '{operation}' || imgs.length !== {count}) return null;
        if (!imgs.every((i) => i.complete && i.naturalWidth > 0)) return null;
        return imgs.map((i) => ({{id: i.dataset.id, src: i.src, w: i.naturalWidth, h: i.naturalHeight}}));""",
    )
    return images


def assert_read_through_host(host: HostServer, shown: dict[str, Any], expected: dict[str, Any]) -> None:
    """The <img> shows the image's display rendition (at most 2048 px: these images keep their size), read
    with resources/read of `<uri>/display` through the host; the original is never read."""
    assert shown["id"] == expected["id"]
    scale = min(1.0, 2048 / max(expected["width"], expected["height"]))
    assert (shown["w"], shown["h"]) == (round(expected["width"] * scale), round(expected["height"] * scale))
    header, data = shown["src"].split(",", 1)
    assert header in ("data:image/jpeg;base64", "data:image/webp;base64")
    assert hashlib.sha256(base64.b64decode(data)).hexdigest() != expected["sha256"]
    reads = [c["params"]["uri"] for c in host.calls if c["method"] == "resources/read"]
    assert expected["uri"] + "/display" in reads and expected["uri"] not in reads


def capsule(draw: ImageDraw.ImageDraw, points: tuple[tuple[int, int], ...], radius: int, fill: int) -> None:
    """A round-capped polyline `radius` wide on each side: what the brush paints."""
    draw.line(points, fill=fill, width=2 * radius)
    for x, y in points:
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)


def count(image: Image.Image) -> int:
    """Pixels that are not black."""
    histogram = image.convert("L").histogram()
    return sum(histogram) - histogram[0]
