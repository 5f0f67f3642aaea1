"""Write the JSON Schema of every tool's input and output and of the sidecar to schemas/, and the precomputed
tools/list answer to easel_mcp/schemas/tools.json (both checked for drift by the tests).

    python -m easel_mcp.schemas.export [DIR]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any


async def built_tools() -> list[Any]:
    """The tools of a fully built server (offline, throwaway workspace), not the cached listing."""
    from easel_mcp.app import build_server
    from easel_mcp.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        server = build_server(Settings(workspace=Path(folder), provider="offline"))
        server.ensure_tools()
        return await server.list_tools()


def listing(tools: list[Any]) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


async def tool_schemas() -> dict[str, dict[str, Any]]:
    """{file name: schema} for every tool the server lists (offline, throwaway workspace)."""
    tools = await built_tools()
    out: dict[str, dict[str, Any]] = {}
    for tool in tools:
        out[f"{tool.name}.input.json"] = tool.input_schema
        if tool.output_schema is not None:
            out[f"{tool.name}.output.json"] = tool.output_schema
    return out


def file_schemas() -> dict[str, dict[str, Any]]:
    """{file name: schema} of the files Easel writes beside each image (the sidecar)."""
    from easel_mcp.schemas.sidecar import Sidecar

    return {"sidecar.json": Sidecar.model_json_schema()}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    import anyio

    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else Path(__file__).resolve().parents[3] / "schemas"
    target.mkdir(parents=True, exist_ok=True)
    schemas = {**anyio.run(tool_schemas), **file_schemas()}
    for old in target.glob("*.json"):
        if old.name not in schemas:
            old.unlink()
    for name, schema in schemas.items():
        (target / name).write_text(render(schema), encoding="utf-8")
    from easel_mcp.tool_cache import CACHE_FILE
    from easel_mcp.tool_cache import render as render_cache

    CACHE_FILE.write_text(render_cache(listing(anyio.run(built_tools))), encoding="utf-8")
    sys.stderr.write(f"wrote {len(schemas)} schemas to {target}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
