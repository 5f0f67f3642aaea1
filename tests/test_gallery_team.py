"""The gallery of a team deployment: mounted at /gallery/ beside /mcp when OAuth is configured, each person sees
only their own images and spend, with the MCP endpoint's tokens; another user's id is 404, a bad token 401."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from easel_mcp.settings import Settings
from tests.helpers import structured
from tests.infra.easel_http import serving
from tests.infra.oauth_issuer import OAuthIssuer


@dataclass
class Team:
    mcp: str
    gallery: str
    issuer: OAuthIssuer
    images: dict[str, list[str]]  # user -> the ids made with their token

    def token(self, subject: str, **kw: Any) -> str:
        return self.issuer.token(subject, audience=self.mcp, **kw)

    def get(self, path: str, token: str | None = None, **kw: Any) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx2.get(f"{self.gallery}{path}", headers=headers, timeout=60, **kw)


async def _make(mcp: str, token: str, prompt: str) -> str:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
        async with Client(streamable_http_client(mcp, http_client=http)) as client:
            made = structured(await client.call_tool("generate_image", {"prompt": prompt, "size": "1024x1024"}))
    return str(made["images"][0]["id"])


@pytest.fixture
def team(workspace_dir: Path, oauth_issuer: OAuthIssuer) -> Iterator[Team]:
    def settings(url: str) -> Settings:
        return Settings(workspace=workspace_dir, provider="offline", oauth_issuer=oauth_issuer.issuer, public_url=url)  # type: ignore[call-arg]

    with serving(settings) as (url, _):
        yield Team(url, url.removesuffix("/mcp") + "/gallery", oauth_issuer, {})


@pytest.fixture
async def made(team: Team) -> Team:
    for user, prompts in (("alice", ["a red kite", "a blue kite"]), ("bob", ["a green boat"])):
        team.images[user] = [await _make(team.mcp, team.token(user), p) for p in prompts]
    return team


pytestmark = pytest.mark.anyio


async def test_each_person_sees_only_their_own_images(made: Team) -> None:
    alice, bob = made.token("alice"), made.token("bob")
    listed = made.get("/api/images", alice).json()
    assert sorted(i["id"] for i in listed["images"]) == sorted(made.images["alice"]) and listed["total"] == 2
    assert [i["id"] for i in made.get("/api/images", bob).json()["images"]] == made.images["bob"]
    facets = made.get("/api/facets", bob).json()
    assert facets["total"] == 1
    mine = made.images["alice"][0]
    assert made.get(f"/api/images/{mine}", alice).json()["entry"]["id"] == mine
    assert made.get(f"/api/images/{mine}/file", alice).headers["content-type"] == "image/png"
    assert made.get(f"/api/images/{mine}/thumb?size=128", alice).headers["content-type"] == "image/webp"
    # Another user's image is not found: never forbidden, never its metadata.
    for path in (f"/api/images/{mine}", f"/api/images/{mine}/file", f"/api/images/{mine}/thumb"):
        response = made.get(path, bob)
        assert response.status_code == 404, (path, response.status_code)
        assert "kite" not in response.text
    # Spend: the user's own rows.
    spend = made.get("/api/spend?since=30d&by=tool", alice).json()
    assert spend["report"]["calls"] == 2 and spend["totals"]["all_time"]["calls"] == 2
    assert made.get("/api/spend?since=30d&by=tool", bob).json()["report"]["calls"] == 1


async def test_tokens_are_checked_like_the_mcp_endpoint(team: Team) -> None:
    stranger = team.issuer.token("alice", audience=team.mcp, key=OAuthIssuer.stranger_key())
    refused = {
        "none": None,
        "garbage": "not-a-jwt",
        "expired": team.token("alice", expires_in=-600),
        "other audience": team.issuer.token("alice", audience="http://elsewhere.example/mcp"),
        "other issuer": team.token("alice", issuer="http://127.0.0.1:9/evil"),
        "bad signature": stranger,
    }
    for name, token in refused.items():
        response = team.get("/api/images", token)
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
        assert "images" not in response.json(), name
    response = team.get("/api/images", team.token("alice", scope="other"))
    assert response.status_code == 403 and 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert team.get("/?token=not-a-jwt").status_code == 401


async def test_the_page_signs_in_with_token_in_the_address_once(made: Team) -> None:
    token = made.token("alice")
    with httpx2.Client(base_url=made.gallery.removesuffix("/gallery"), timeout=60) as browser:
        assert browser.get("/gallery").headers["location"] == "/gallery/"  # the page's relative links need the slash
        signed_in = browser.get("/gallery/", params={"token": token, "q": "kite"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/gallery/?q=kite"
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/gallery/" in cookie
        page = browser.get("/gallery/")  # the cookie from now on
        assert page.status_code == 200 and 'src="static/gallery.js"' in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert browser.get("/gallery/static/gallery.js").status_code == 200
        assert len(browser.get("/gallery/api/images").json()["images"]) == 2
    assert made.get("/api/images", made.token("carol")).json()["images"] == []  # a new user: an empty gallery


def test_without_oauth_there_is_no_gallery_beside_mcp(workspace_dir: Path) -> None:
    def settings(url: str) -> Settings:
        return Settings(workspace=workspace_dir, provider="offline")

    with serving(settings) as (url, _):
        assert httpx2.get(url.removesuffix("/mcp") + "/gallery/api/images", timeout=30).status_code == 404


def test_easel_mcp_gallery_with_oauth_is_the_per_user_gallery(workspace_dir: Path, oauth_issuer: OAuthIssuer) -> None:
    from starlette.testclient import TestClient

    from easel_mcp.gallery.cli import _team_app
    from easel_mcp.workspace import Workspace

    public = "http://127.0.0.1:8000/mcp"
    settings = Settings(
        workspace=workspace_dir, provider="offline", oauth_issuer=oauth_issuer.issuer, public_url=public
    )  # type: ignore[call-arg]
    workspace = Workspace.open(workspace_dir)
    with TestClient(_team_app(settings, workspace, None)) as client:
        assert client.get("/api/images").status_code == 401
        token = oauth_issuer.token("alice", audience=public)
        listed = client.get("/api/images", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200 and listed.json()["images"] == []
    assert [p.name.startswith("alice-") for p in (workspace_dir / "users").iterdir()] == [True]


async def test_with_postgresql_and_a_store_any_replica_shows_a_person_their_images(
    tmp_path: Path, postgres_url: str, s3_server: Any, oauth_issuer: OAuthIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team deployment: two replicas with their own (empty) folders, one PostgreSQL, one bucket. The gallery of
    the replica that did not make the image lists it (the shared index) and serves its file and thumbnail (fetched
    from the store); another person sees none of it."""
    from tests.infra.s3 import CREDENTIALS

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = s3_server.bucket()

    def replica(folder: str) -> Any:
        (tmp_path / folder).mkdir()
        return lambda url: Settings(  # type: ignore[call-arg]
            workspace=tmp_path / folder,
            provider="offline",
            database_url=postgres_url,
            store_url=f"s3://{bucket}/team",
            s3_endpoint=s3_server.endpoint,
            oauth_issuer=oauth_issuer.issuer,
            public_url=url,
        )

    with serving(replica("one")) as (url, _):
        made = await _make(url, oauth_issuer.token("alice", audience=url), "a kite over the dunes")
    with serving(replica("two")) as (url, _):
        team = Team(url, url.removesuffix("/mcp") + "/gallery", oauth_issuer, {})
        alice, bob = team.token("alice"), team.token("bob")
        listed = team.get("/api/images", alice).json()
        assert [i["id"] for i in listed["images"]] == [made]
        assert team.get(f"/api/images/{made}", alice).json()["sidecar"]["prompt"] == "a kite over the dunes"
        assert team.get(f"/api/images/{made}/file", alice).headers["content-type"] == "image/png"
        assert team.get(f"/api/images/{made}/thumb?size=128", alice).headers["content-type"] == "image/webp"
        assert team.get("/api/images", bob).json()["images"] == []
        assert team.get(f"/api/images/{made}/file", bob).status_code == 404
