"""schemas/ holds the JSON Schema of every tool; regenerate with `python -m easel_mcp.schemas.export`."""

from __future__ import annotations

from pathlib import Path

import pytest

from easel_mcp.schemas.export import render, tool_schemas

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


@pytest.mark.anyio
async def test_published_schemas_match_the_code() -> None:
    current = await tool_schemas()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.json")}
    assert set(on_disk) == set(current), "run: python -m easel_mcp.schemas.export"
    for name, schema in current.items():
        assert on_disk[name] == render(schema), f"{name} drifted; run: python -m easel_mcp.schemas.export"
    for name, schema in current.items():
        if name.endswith(".input.json"):
            assert not {"anyOf", "oneOf", "allOf"} & set(schema), name
