"""The image index on a shared PostgreSQL database, end to end through the MCP tools: two replicas that write into
different folders list and find each other's images by id; over HTTP with OAuth, a user sees only their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from easel_mcp.storage.postgres_index import PostgresImageIndex
from tests.helpers import error_text, structured
from tests.infra.easel_http import serving
from tests.infra.oauth_issuer import OAuthIssuer

pytestmark = pytest.mark.anyio


def _settings(workspace: Path, database_url: str, **kw: object) -> Settings:
    return Settings(workspace=workspace, provider="offline", database_url=database_url, **kw)  # type: ignore[arg-type]


async def test_an_image_written_by_one_replica_is_listed_and_found_by_another(
    postgres_url: str, tmp_path: Path
) -> None:
    one = build_server(_settings(tmp_path / "one", postgres_url))
    two = build_server(_settings(tmp_path / "two", postgres_url))
    async with Client(one) as first, Client(two) as second:
        made = structured(await first.call_tool("generate_image", {"prompt": "a lighthouse at dusk", "name": "lh"}))
        [image] = made["images"]
        edit = structured(await first.call_tool("edit_image", {"prompt": "add a moon", "images": [image["id"]]}))
        [child] = edit["images"]
        listed = structured(await second.call_tool("list_images", {"query": "lighthouse"}))
        assert [i["id"] for i in listed["images"]] == [image["id"]] and listed["total"] == 2
        assert [i["id"] for i in structured(await second.call_tool("list_images", {"tool": "edit"}))["images"]] == [
            child["id"]
        ]
        found = structured(await second.call_tool("get_image", {"id": image["id"], "preview": False}))
        assert found["image"]["id"] == image["id"] and [c["id"] for c in found["children"]] == [child["id"]]
        assert {n["id"] for n in found["lineage"]["nodes"]} == {image["id"], child["id"]}
        resources = [str(r.uri) for r in (await second.list_resources()).resources]
        assert image["uri"] in resources and child["uri"] in resources
    assert isinstance(two.studio.index, PostgresImageIndex)
    assert not (tmp_path / "two" / ".easel" / "index.sqlite3").exists()  # no SQLite index beside it

    env = {k: v for k, v in os.environ.items() if not k.startswith("EASEL_")}
    env.update(EASEL_WORKSPACE=str(tmp_path / "elsewhere"), EASEL_DATABASE_URL=postgres_url)
    cli = subprocess.run(
        [sys.executable, "-m", "easel_mcp", "images", "--json", "--query", "moon"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    assert [i["id"] for i in json.loads(cli.stdout)] == [child["id"]]  # the command line reads the same index


@asynccontextmanager
async def _as(user: str, url: str, issuer: OAuthIssuer) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {issuer.token(user, audience=url)}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


async def test_over_http_each_user_sees_only_their_own_images(
    postgres_url: str, tmp_path: Path, oauth_issuer: OAuthIssuer
) -> None:
    def settings(url: str) -> Settings:
        return _settings(tmp_path / "ws", postgres_url, oauth_issuer=oauth_issuer.issuer, public_url=url)

    with serving(settings) as (url, _):
        async with _as("alice", url, oauth_issuer) as alice:
            made = structured(await alice.call_tool("generate_image", {"prompt": "alice's kite"}))
            [image] = made["images"]
            assert [i["id"] for i in structured(await alice.call_tool("list_images", {}))["images"]] == [image["id"]]
        async with _as("bob", url, oauth_issuer) as bob:
            listed = structured(await bob.call_tool("list_images", {}))
            hidden = error_text(await bob.call_tool("get_image", {"id": image["id"]}))
            resources = [str(r.uri) for r in (await bob.list_resources()).resources]
    assert listed["images"] == [] and listed["total"] == 0
    assert "no image" in hidden and "kite" not in hidden and "forbidden" not in hidden.lower()
    assert image["uri"] not in resources
