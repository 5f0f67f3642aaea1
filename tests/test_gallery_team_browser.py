"""The per-user gallery in a real browser (headless Chromium): mounted at /gallery/ on the HTTP server of a team
deployment, signed in with an OAuth token in the address once; each person sees their own images only.

Screenshots go to tests/artifacts/ (gitignored) for a person to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from easel_mcp.settings import Settings
from tests.infra.easel_http import serving
from tests.infra.oauth_issuer import OAuthIssuer
from tests.test_gallery_browser import ARTIFACTS, _click, _loaded_thumbs, _wait
from tests.test_gallery_browser import driver as driver  # a fixture
from tests.test_gallery_team import _make


def test_each_person_sees_their_own_gallery_in_a_browser(
    driver: Any, workspace_dir: Path, oauth_issuer: OAuthIssuer
) -> None:
    from selenium.webdriver.common.by import By

    def settings(url: str) -> Settings:
        return Settings(workspace=workspace_dir, provider="offline", oauth_issuer=oauth_issuer.issuer, public_url=url)  # type: ignore[call-arg]

    with serving(settings) as (url, _):
        token = {user: oauth_issuer.token(user, audience=url) for user in ("alice", "bob")}
        made = {
            "alice": [anyio.run(_make, url, token["alice"], p) for p in ("a red kite", "a blue kite")],
            "bob": [anyio.run(_make, url, token["bob"], "a green boat")],
        }
        gallery = url.removesuffix("/mcp") + "/gallery/"
        ARTIFACTS.mkdir(exist_ok=True)

        driver.get(f"{gallery}?token={token['alice']}")
        _wait(driver, lambda d: _loaded_thumbs(d) == 2)
        assert "token" not in driver.current_url and driver.current_url.startswith(gallery)
        ids = {e.get_attribute("data-id") for e in driver.find_elements(By.CSS_SELECTOR, ".card")}
        assert ids == set(made["alice"])
        driver.save_screenshot(str(ARTIFACTS / "gallery-team-alice.png"))
        _click(driver, f'.card[data-id="{made["alice"][0]}"]')
        _wait(driver, lambda d: d.find_element(By.ID, "d-title").text == "a-red-kite")  # its metadata, under /gallery/
        driver.save_screenshot(str(ARTIFACTS / "gallery-team-alice-detail.png"))
        driver.get(gallery)  # closes the detail view

        # Bob, in the same browser: his token replaces alice's cookie; her images are gone, his are there.
        driver.get(f"{gallery}?token={token['bob']}")
        _wait(driver, lambda d: _loaded_thumbs(d) == 1)
        ids = {e.get_attribute("data-id") for e in driver.find_elements(By.CSS_SELECTOR, ".card")}
        assert ids == set(made["bob"])
        driver.save_screenshot(str(ARTIFACTS / "gallery-team-bob.png"))
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors
