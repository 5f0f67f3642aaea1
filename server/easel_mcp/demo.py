"""`easel-mcp demo`: every tool, called through a real in-memory MCP client, on the offline renderer."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from easel_mcp.workspace import Workspace


def run_demo(workspace: str | None) -> int:
    import anyio

    folder = Path(workspace) if workspace else Path(tempfile.mkdtemp(prefix="easel-demo-"))
    return anyio.run(_demo, folder)


async def _demo(folder: Path) -> int:
    from mcp import Client

    from easel_mcp.app import build_server
    from easel_mcp.settings import Settings

    settings = Settings(workspace=folder, provider="offline")
    server = build_server(settings)
    print(f"Easel demo: offline provider (no key, no network), workspace {server.studio.workspace.root}\n")
    async with Client(server) as client:
        tools = await client.list_tools()
        print("tools:", ", ".join(t.name for t in tools.tools), "\n")
        estimate = (
            await client.call_tool(
                "estimate_cost", {"operation": "generate", "size": "landscape", "quality": "high", "n": 4}
            )
        ).structured_content
        print(
            f"estimate_cost(4 landscape images, high quality, {estimate['model']}): ${estimate['total_usd']:.4f} "
            f"({estimate['price_source']}, {estimate['price_as_of']})\n"
        )
        first = await _call(
            client,
            "generate_image",
            {
                "prompt": "A lighthouse on a cliff at dusk, watercolour",
                "size": "landscape",
                "quality": "low",
                "name": "lighthouse",
            },
        )
        if first is None:
            return 1
        image_id = first["images"][0]["id"]
        mask_id = await _make_mask(server.studio.workspace, first)
        steps: list[tuple[str, dict[str, Any]]] = [
            (
                "edit_image",
                {
                    "prompt": "Add a full moon in the sky",
                    "images": [image_id],
                    "mask": mask_id,
                    "name": "lighthouse-moon",
                },
            ),
            (
                "inpaint",
                {
                    "image": image_id,
                    "prompt": "Replace the boat with a rowing boat",
                    "regions": [{"x": 200, "y": 640, "width": 360, "height": 240}],
                    "name": "rowing-boat",
                },
            ),
            (
                "outpaint",
                {
                    "image": image_id,
                    "prompt": "Extend the coastline into a wide banner",
                    "aspect_ratio": "16:9",
                    "name": "banner",
                },
            ),
        ]
        for name, args in steps:
            if await _call(client, name, args) is None:
                return 1
        listed = (await client.call_tool("list_images", {"limit": 10})).structured_content
        print(f"\nlist_images: {listed['total']} images, newest first:")
        for image in listed["images"]:
            print(f"  {image['id']}  {image['operation']:<9} {image['relative_path']}")
        detail = (await client.call_tool("get_image", {"id": image_id, "preview": False})).structured_content
        children = ", ".join(c["operation"] for c in detail["children"])
        print(
            f"get_image({image_id}): {detail['image']['width']}x{detail['image']['height']}, made from "
            f"{detail['sidecar']['prompt']!r}; edited since by: {children}"
        )
    print("\nAll files are in", server.studio.workspace.root)
    return 0


async def _call(client: Any, name: str, args: dict[str, Any]) -> dict[str, Any] | None:
    result = await client.call_tool(name, args)
    size = len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True)))
    if result.is_error:
        print(f"{name}: ERROR {result.content[0].text}")
        return None
    data: dict[str, Any] = result.structured_content
    print(f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})")
    for image in data["images"]:
        print(
            f"  wrote {image['relative_path']}  {image['width']}x{image['height']} {image['format']}"
            f"  {image['bytes']:,} bytes  id {image['id']}"
        )
    print(
        f"  cost ${data['cost_usd']:.4f} (estimate for a real model: "
        f"{'${:.4f}'.format(data['estimated_cost_usd']) if data['estimated_cost_usd'] is not None else 'n/a'})"
        f"  result sent to the agent: {size:,} bytes"
    )
    return data


async def _make_mask(workspace: Workspace, generated: dict[str, Any]) -> str:
    """A black-and-white mask (white = paint) drawn as a person would, saved into the workspace."""
    import io

    from PIL import Image, ImageDraw

    w, h = generated["images"][0]["width"], generated["images"][0]["height"]
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse((w * 0.65, h * 0.08, w * 0.85, h * 0.38), fill=255)
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    workspace.write_file(("masks", "moon-mask.png"), buf.getvalue())  # a real folder: never through a link
    return "masks/moon-mask.png"
