"""schemas/ holds the JSON Schema of every tool and of the sidecar; regenerate with
`python -m easel_mcp.schemas.export`."""

from __future__ import annotations

from pathlib import Path

import pytest

from easel_mcp.schemas.export import file_schemas, render, tool_schemas

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


@pytest.mark.anyio
async def test_published_schemas_match_the_code() -> None:
    current = {**await tool_schemas(), **file_schemas()}
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.json")}
    assert set(on_disk) == set(current), "run: python -m easel_mcp.schemas.export"
    for name, schema in current.items():
        assert on_disk[name] == render(schema), f"{name} drifted; run: python -m easel_mcp.schemas.export"
    for name, schema in current.items():
        if name.endswith(".input.json"):
            assert not {"anyOf", "oneOf", "allOf"} & set(schema), name


@pytest.mark.anyio
async def test_the_precomputed_tool_listing_is_what_the_built_server_lists(offline_settings: object) -> None:
    """tools/list is answered from easel_mcp/schemas/tools.json until the tools are built."""
    from mcp import Client

    from easel_mcp.app import build_server
    from easel_mcp.schemas.export import built_tools, listing
    from easel_mcp.tool_cache import cached_listing

    cached = cached_listing()
    assert cached is not None, "run: python -m easel_mcp.schemas.export"
    assert cached == listing(await built_tools())
    server = build_server(offline_settings)  # type: ignore[arg-type]
    assert server._tools_registered is False
    async with Client(server) as client:
        listed = (await client.list_tools()).tools
        # A client without MCP Apps is not offered the app-only tools (save_mask).
        assert [t.name for t in listed] == [t["name"] for t in cached if t["name"] != "save_mask"]
        await client.call_tool("estimate_cost", {"operation": "generate"})
    assert server._tools_registered is True
