"""list_images, get_image and the paginated resource listing, through the MCP client."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mcp import Client

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from tests.helpers import error_text, structured

pytestmark = pytest.mark.anyio


async def test_list_get_and_lineage(offline_settings: Settings) -> None:
    server = build_server(offline_settings)
    async with Client(server) as client:
        fox = structured(await client.call_tool("generate_image", {"prompt": "a red fox", "name": "fox"}))
        fox_id = fox["images"][0]["id"]
        hat = structured(await client.call_tool("edit_image", {"prompt": "add a hat", "images": [fox_id]}))
        structured(await client.call_tool("generate_image", {"prompt": "a city at night", "model": "gpt-image-2"}))
        listed = structured(await client.call_tool("list_images", {}))
        foxes = structured(await client.call_tool("list_images", {"query": "fox"}))
        edits = structured(await client.call_tool("list_images", {"tool": "edit"}))
        page1 = structured(await client.call_tool("list_images", {"limit": 2}))
        page2 = structured(await client.call_tool("list_images", {"limit": 2, "cursor": page1["next_cursor"]}))
        detail = await client.call_tool("get_image", {"id": fox_id})
        missing = await client.call_tool("get_image", {"id": "0123456789ab"})
    assert listed["total"] == 3 and [i["operation"] for i in listed["images"]][-1] == "generate"
    assert {i["id"] for i in foxes["images"]} == {fox_id}
    assert [i["id"] for i in edits["images"]] == [hat["images"][0]["id"]]
    assert len(page1["images"]) == 2 and len(page2["images"]) == 1 and page2["next_cursor"] is None
    data = structured(detail)
    assert [c["id"] for c in data["children"]] == [hat["images"][0]["id"]]
    assert data["sidecar"]["prompt"] == "a red fox" and data["image"]["uri"] == f"easel://images/{fox_id}"
    assert [b.type for b in detail.content] == ["text", "resource_link", "image"]
    assert "no image with id" in error_text(missing)


async def test_the_index_notices_files_added_and_deleted_by_hand(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        made = structured(await client.call_tool("generate_image", {"prompt": "boat", "n": 2}))
        first, second = (Path(i["path"]) for i in made["images"])
        first.unlink()
        first.with_suffix(".json").unlink()
        copy = second.with_name(second.name.replace(made["images"][1]["id"], "aaaaaaaaaaaa"))
        shutil.copy(second, copy)
        listed = structured(await client.call_tool("list_images", {}))
    ids = {i["id"] for i in listed["images"]}
    assert made["images"][0]["id"] not in ids and "aaaaaaaaaaaa" in ids and listed["total"] == 2


async def test_resource_listing_is_paginated(workspace_dir: Path) -> None:
    settings = Settings(workspace=workspace_dir, provider="offline")
    async with Client(build_server(settings)) as client:
        for _ in range(6):
            structured(
                await client.call_tool(
                    "generate_image", {"prompt": "tile", "n": 10, "preview": "none", "quality": "low"}
                )
            )
        first = await client.list_resources()
        uris = [r.uri for r in first.resources]
        assert "easel://usage" in uris and "easel://models" in uris
        images = [u for u in uris if u.startswith("easel://images/")]
        assert len(images) == 50 and first.next_cursor
        second = await client.list_resources(cursor=first.next_cursor)
    more = [r.uri for r in second.resources]
    assert len(more) == 10 and not set(more) & set(images) and second.next_cursor is None
