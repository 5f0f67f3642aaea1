"""The gallery in a real browser: headless Chromium (Debian's) driven by Selenium over a real loopback server.

Screenshots go to tests/artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from tests.helpers import png, structured
from tests.test_gallery import TOKEN, Running, seed_ledger
from tests.test_gallery import start_gallery as start_gallery  # a fixture
from tests.test_index import fabricate

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).parent / "artifacts"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
)


@pytest.fixture
def driver() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium chromium-driver)")
    if not CHROMEDRIVER.exists():
        pytest.skip(f"{CHROMEDRIVER} is not installed (apt-get install chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="the selenium package is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="easel-chromium-") as profile:
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield browser
        finally:
            browser.quit()


async def _studio_session(folder: Path) -> dict[str, str]:
    """A workspace as an agent leaves it: generations, an edit chain, an inpaint and an outpaint."""
    server = build_server(Settings(workspace=folder, provider="offline"))
    made: dict[str, str] = {}
    async with Client(server) as client:

        async def call(name: str, args: dict[str, Any]) -> str:
            image_id: str = structured(await client.call_tool(name, args))["images"][0]["id"]
            return image_id

        made["fox"] = await call(
            "generate_image",
            {"prompt": "A red fox in deep snow, morning light", "size": "landscape", "name": "red-fox"},
        )
        made["city"] = await call(
            "generate_image",
            {
                "prompt": "A neon city street at night in the rain",
                "size": "portrait",
                "model": "gpt-image-1-mini",
                "name": "neon-city",
            },
        )
        made["lighthouse"] = await call(
            "generate_image",
            {"prompt": "A lighthouse on a cliff at dusk, watercolour", "size": "square", "name": "lighthouse"},
        )
        made["moon"] = await call(
            "edit_image",
            {"prompt": "Add a full moon in the sky", "images": [made["lighthouse"]], "name": "lighthouse-moon"},
        )
        made["stars"] = await call(
            "edit_image", {"prompt": "Add stars around the moon", "images": [made["moon"]], "name": "lighthouse-stars"}
        )
        made["boat"] = await call(
            "inpaint",
            {
                "image": made["lighthouse"],
                "prompt": "A small rowing boat",
                "regions": [{"x": 100, "y": 700, "width": 300, "height": 200}],
                "name": "rowing-boat",
            },
        )
        made["banner"] = await call(
            "outpaint",
            {
                "image": made["moon"],
                "prompt": "Extend into a wide banner",
                "aspect_ratio": "16:9",
                "name": "moon-banner",
            },
        )
    return made


def _wait(browser: Any, condition: Any, timeout: float = 90) -> Any:
    """Wait for `condition` (the limit only stops a hung test). The page re-renders while it loads, so an
    element found a moment ago may be gone: that is a reason to look again, not a failure."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def _click(browser: Any, css: str) -> None:
    """Click the element matching `css`, looking it up again if the page re-rendered it meanwhile."""
    from selenium.webdriver.common.by import By

    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)


def _select(browser: Any, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _wait(browser, lambda d: Select(d.find_element(By.ID, element_id)).select_by_value(value) or True)


def _texts(browser: Any, css: str) -> list[str]:
    """The text of every element matching `css`, read in one step in the page (never a stale element)."""
    texts: list[str] = browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText)", css
    )
    return texts


def _attrs(browser: Any, css: str, name: str) -> list[str]:
    values: list[str] = browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]))", css, name
    )
    return values


def _loaded_thumbs(browser: Any) -> int:
    count: int = browser.execute_script(
        "return [...document.querySelectorAll('.card img')].filter(i => i.complete && i.naturalWidth > 0).length"
    )
    return count


def test_gallery_in_a_browser(driver: Any, tmp_path: Path, start_gallery: Any) -> None:
    from selenium.webdriver.common.by import By

    workspace = tmp_path / "workspace"
    made = anyio.run(_studio_session, workspace)
    seed_ledger(workspace / ".easel" / "ledger.sqlite3")
    running: Running = start_gallery(workspace, TOKEN)
    ARTIFACTS.mkdir(exist_ok=True)

    # The printed URL carries the token; the page trades it for a cookie and drops it from the address.
    driver.get(running.url)
    _wait(driver, lambda d: _loaded_thumbs(d) == 7)
    assert "token" not in driver.current_url
    _wait(driver, lambda d: d.find_element(By.ID, "count").text == "7 images in the workspace")
    _wait(driver, lambda d: d.find_element(By.ID, "spend-all").text == "$2.58")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#spend-chart rect.bar")) == 6
    titles = _texts(driver, ".card-title")
    assert titles[0] == "moon-banner" and titles[-1] == "red-fox"  # newest first
    driver.save_screenshot(str(ARTIFACTS / "gallery-grid.png"))

    # Filters: text search, then the tool menu.
    search = driver.find_element(By.ID, "q")
    search.send_keys("lighthouse")
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".card")) == 3 and _loaded_thumbs(d) == 3)
    titles = set(_texts(driver, ".card-title"))
    assert titles == {"lighthouse", "lighthouse-moon", "lighthouse-stars"}
    _wait(driver, lambda d: d.find_element(By.ID, "count").text == "3 shown · 7 images in the workspace")
    assert "q=lighthouse" in driver.current_url
    driver.save_screenshot(str(ARTIFACTS / "gallery-filtered.png"))
    search.clear()
    search.send_keys(" ")

    _select(driver, "tool", "edit")
    _wait(
        driver,
        lambda d: set(_texts(d, ".card-title")) == {"lighthouse-moon", "lighthouse-stars"},
    )

    # The detail view of the middle of the edit chain: its parent and its children in the lineage graph.
    _click(driver, f'.card[data-id="{made["moon"]}"]')
    _wait(driver, lambda d: d.find_element(By.ID, "d-title").text == "lighthouse-moon")
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#d-lineage .node")) == 4)
    _wait(
        driver,
        lambda d: d.execute_script(
            "const i = document.getElementById('d-img'); return i.complete && i.naturalWidth > 0"
        ),
    )
    assert driver.current_url.endswith(f"#/image/{made['moon']}")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#d-lineage path.edge")) == 3
    fields = _wait(driver, lambda d: d.find_element(By.ID, "d-fields").text)
    assert "Add a full moon in the sky" in fields and "parents" in fields and made["lighthouse"] in fields
    driver.save_screenshot(str(ARTIFACTS / "gallery-detail.png"))
    driver.execute_script("document.querySelector('.detail-side').scrollTop = 10000")
    driver.save_screenshot(str(ARTIFACTS / "gallery-sidecar.png"))

    # Click the parent in the graph: the detail view follows the lineage.
    _click(driver, "#d-lineage .node:not(.current)")
    _wait(driver, lambda d: d.current_url.endswith(f"#/image/{made['lighthouse']}"))
    _wait(driver, lambda d: d.find_element(By.ID, "d-title").text == "lighthouse")
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#d-lineage .node")) == 5)
    driver.save_screenshot(str(ARTIFACTS / "gallery-detail-root.png"))
    _click(driver, "#d-close")
    _wait(driver, lambda d: not d.find_element(By.ID, "detail").is_displayed())

    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


def test_infinite_scroll_filters_and_empty_state(driver: Any, tmp_path: Path, start_gallery: Any) -> None:
    from selenium.webdriver.common.by import By

    workspace = tmp_path / "workspace"
    fabricate(workspace, 120, per_day=40, data=png((48, 32), (200, 120, 40)))
    running: Running = start_gallery(workspace)
    assert "token" not in running.url
    driver.get(running.url)
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".card")) == 50)
    _wait(driver, lambda d: d.find_element(By.ID, "count").text == "120 images in the workspace")

    def scrolled_to(d: Any, n: int) -> bool:  # keep scrolling: each arrival at the bottom asks for a page
        d.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        return len(d.find_elements(By.CSS_SELECTOR, ".card")) >= n

    for expected in (100, 120):
        _wait(driver, lambda d, n=expected: scrolled_to(d, n))
    _wait(driver, lambda d: not d.find_element(By.ID, "more").is_displayed())
    ids = _attrs(driver, ".card", "data-id")
    assert ids == [f"{i:012x}" for i in range(120)]  # newest first, no duplicates or gaps across pages
    _wait(
        driver,
        lambda d: d.execute_script(  # the thumbnails in view have loaded (the others wait: lazy)
            "const seen = [...document.querySelectorAll('.card img')].filter(i => {"
            " const r = i.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; });"
            " return seen.length > 0 && seen.every(i => i.complete && i.naturalWidth > 0)"
        ),
    )
    driver.save_screenshot(str(ARTIFACTS / "gallery-scrolled.png"))

    _select(driver, "model", "gemini-2.5-flash-image")
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".card")) == 40)
    _select(driver, "since", "7d")
    _wait(driver, lambda d: d.find_element(By.ID, "empty").is_displayed())
    _wait(driver, lambda d: d.find_element(By.ID, "empty").text == "No image matches these filters.")
    _select(driver, "since", "date")
    date_input = driver.find_element(By.ID, "since-date")
    assert date_input.is_displayed()
    driver.execute_script(
        "arguments[0].value = '2026-03-14'; arguments[0].dispatchEvent(new Event('change'))", date_input
    )
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".card")) == 13)  # the newest day, 1 in 3 models
    assert "since=2026-03-14" in driver.current_url and "model=gemini" in driver.current_url
    driver.save_screenshot(str(ARTIFACTS / "gallery-date-filter.png"))
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
