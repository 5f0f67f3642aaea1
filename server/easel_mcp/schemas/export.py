"""Write the JSON Schema of every tool's input and output to schemas/ (checked for drift by the tests).

    python -m easel_mcp.schemas.export [DIR]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any


async def tool_schemas() -> dict[str, dict[str, Any]]:
    """{file name: schema} for every tool the server lists (offline, throwaway workspace)."""
    from easel_mcp.app import build_server
    from easel_mcp.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        server = build_server(Settings(workspace=Path(folder), provider="offline"))
        tools = await server.list_tools()
    out: dict[str, dict[str, Any]] = {}
    for tool in tools:
        out[f"{tool.name}.input.json"] = tool.input_schema
        if tool.output_schema is not None:
            out[f"{tool.name}.output.json"] = tool.output_schema
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    import anyio

    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else Path(__file__).resolve().parents[3] / "schemas"
    target.mkdir(parents=True, exist_ok=True)
    schemas = anyio.run(tool_schemas)
    for old in target.glob("*.json"):
        if old.name not in schemas:
            old.unlink()
    for name, schema in schemas.items():
        (target / name).write_text(render(schema), encoding="utf-8")
    print(f"wrote {len(schemas)} schemas to {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
