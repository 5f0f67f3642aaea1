"""Each user (the subject of their OAuth token) has a workspace of their own: their images, ids, paths, jobs and
resources are invisible to everyone else, who get "not found" (never "forbidden", never the metadata)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from easel_mcp.app import EaselServer
from easel_mcp.settings import Settings
from easel_mcp.workspace import USERS_DIR, user_folder
from tests.helpers import error_text, structured
from tests.infra.easel_http import serving
from tests.infra.oauth_issuer import OAuthIssuer

pytestmark = pytest.mark.anyio


@pytest.fixture
def easel(workspace_dir: Path, oauth_issuer: OAuthIssuer) -> Iterator[tuple[str, EaselServer, OAuthIssuer]]:
    def settings(url: str) -> Settings:
        return Settings(workspace=workspace_dir, provider="offline", oauth_issuer=oauth_issuer.issuer, public_url=url)  # type: ignore[call-arg]

    with serving(settings) as (url, server):
        yield url, server, oauth_issuer


@asynccontextmanager
async def _as(user: str, easel: tuple[str, EaselServer, OAuthIssuer]) -> AsyncIterator[Client]:
    url, _, issuer = easel
    headers = {"Authorization": f"Bearer {issuer.token(user, audience=url)}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


async def test_a_second_user_sees_none_of_the_first_users_images(
    easel: tuple[str, EaselServer, OAuthIssuer], workspace_dir: Path
) -> None:
    async with _as("alice", easel) as alice:
        made = structured(await alice.call_tool("generate_image", {"prompt": "alice's kite", "name": "kite"}))
        [image] = made["images"]
        listed = structured(await alice.call_tool("list_images", {}))
        own = await alice.read_resource(image["uri"])
    area = workspace_dir / USERS_DIR / user_folder("alice")
    assert Path(image["path"]).is_relative_to(area) and image["relative_path"].startswith("20")
    assert [i["id"] for i in listed["images"]] == [image["id"]] and own.contents

    async with _as("bob", easel) as bob:
        assert structured(await bob.call_tool("list_images", {}))["images"] == []
        hidden = error_text(await bob.call_tool("get_image", {"id": image["id"]}))
        by_id = error_text(await bob.call_tool("edit_image", {"prompt": "mine now", "images": [image["id"]]}))
        by_path = error_text(
            await bob.call_tool(
                "edit_image", {"prompt": "mine now", "images": [f"../{user_folder('alice')}/{image['relative_path']}"]}
            )
        )
        job = error_text(await bob.call_tool("get_job", {"job_id": made["job_id"], "wait_s": 0}))
        with pytest.raises(Exception, match=r"not found|Unknown resource|no image"):
            await bob.read_resource(image["uri"])
        resources = [str(r.uri) for r in (await bob.list_resources()).resources]
    for text in (hidden, by_id, job):
        assert ("no " in text.lower() or "not" in text.lower()) and "alice" not in text and "kite" not in text
    assert "forbidden" not in (hidden + by_id + by_path + job).lower()
    assert "outside" in by_path or "not" in by_path
    assert image["uri"] not in resources


async def test_without_oauth_everything_stays_in_the_workspace_itself(offline_settings: Settings) -> None:
    from easel_mcp.app import build_server

    async with Client(build_server(offline_settings)) as client:
        made = structured(await client.call_tool("generate_image", {"prompt": "one person"}))
    assert USERS_DIR not in Path(made["images"][0]["path"]).relative_to(offline_settings.workspace_path()).parts


async def test_start_up_recovers_a_users_call_from_their_own_folder(
    easel: tuple[str, EaselServer, OAuthIssuer], workspace_dir: Path
) -> None:
    import sqlite3

    from easel_mcp.app import build_server

    async with _as("alice", easel) as alice:
        made = structured(await alice.call_tool("generate_image", {"prompt": "written, then the process died"}))
    ledger_path = workspace_dir / ".easel" / "ledger.sqlite3"
    with sqlite3.connect(ledger_path) as conn:  # as a process killed after writing the files leaves it
        conn.execute(
            "UPDATE attempts SET status = 'sent', pid = 999999999, outputs_json = '[]', images = 0 WHERE job_id = ?",
            (made["job_id"],),
        )
    server = build_server(Settings(workspace=workspace_dir, provider="offline"))
    async with Client(server):
        [row] = server.studio.ledger.rows()
    assert row["status"] == "ok" and row["user_id"] == "alice"
    assert row["outputs"] == [made["images"][0]["relative_path"]]
