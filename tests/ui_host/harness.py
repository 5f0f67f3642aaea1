"""A loopback stand-in for an MCP Apps host, for the browser tests of the Easel views.

It serves host.html/host.js and the views (`load_app_html`), and answers the host page's forwarded
requests (POST /rpc {method, params}) with a real Easel server (offline provider) through an in-process
`mcp.Client`. `save_mask` is the lead's app-only tool: when the server does not have it yet, the harness
plays it (same contract) and writes the mask into the workspace so the following `inpaint` works.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from mcp import Client
from mcp.client.extension import advertise
from mcp.shared.exceptions import MCPError
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from easel_mcp.ui import load_app_html

HOST_DIR = Path(__file__).parent


def _dump(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


class HostServer:
    """`with HostServer(workspace) as host:` serves on `host.url` until the block ends."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.calls: list[dict[str, Any]] = []
        """Every request the views made through the host: {"method", "params"} (mask bytes left out)."""
        self.masks: list[bytes] = []
        """The PNGs the painter sent to save_mask."""
        self.replies: list[tuple[str, int]] = []
        """(method, bytes) of every answer the host forwarded to the views."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server: uvicorn.Server | None = None
        self._client: Client | None = None
        self._tools: set[str] = set()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ui-host", daemon=True)

    def __enter__(self) -> HostServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not (self._server is not None and self._server.started):
            if self._error is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the test host did not start: {self._error!r}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=15)

    def tool_calls(self, name: str) -> list[dict[str, Any]]:
        return [c["params"] for c in self.calls if c["method"] == "tools/call" and c["params"]["name"] == name]

    def _run(self) -> None:
        try:
            anyio.run(self._main)
        except BaseException as e:  # reported by __enter__
            self._error = e

    async def _main(self) -> None:
        settings = Settings(workspace=self.workspace, provider="offline")
        ui = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
        async with Client(build_server(settings), extensions=[ui]) as client:  # a host with MCP Apps
            self._client = client
            self._tools = {t.name for t in (await client.list_tools()).tools}
            routes = [
                Route("/host.html", self._static),
                Route("/host.js", self._static),
                Route("/app/{name}.html", self._view),
                Route("/rpc", self._rpc, methods=["POST"]),
                Route("/favicon.ico", lambda _: Response(status_code=204)),
            ]
            config = uvicorn.Config(Starlette(routes=routes), log_level="warning", lifespan="off")
            self._server = uvicorn.Server(config)
            await self._server.serve(sockets=[self._sock])

    async def _static(self, request: Request) -> Response:
        return FileResponse(HOST_DIR / request.url.path.lstrip("/"), headers={"cache-control": "no-store"})

    async def _view(self, request: Request) -> Response:
        return HTMLResponse(load_app_html(request.path_params["name"]))

    async def _rpc(self, request: Request) -> Response:
        body = await request.json()
        method, params = body["method"], body.get("params") or {}
        arguments = {k: v for k, v in (params.get("arguments") or {}).items() if k != "mask_png_base64"}
        self.calls.append({"method": method, "params": {**params, "arguments": arguments}})
        assert self._client is not None
        try:
            if method == "tools/call":
                result = await self._call_tool(params["name"], params.get("arguments") or {})
            elif method == "resources/read":
                result = _dump(await self._client.read_resource(params["uri"]))
            else:
                return JSONResponse({"error": {"code": -32601, "message": f"Method not found: {method}"}})
        except MCPError as e:
            return JSONResponse({"error": {"code": -32603, "message": str(e)}})
        answer = JSONResponse({"result": result})
        self.replies.append((method, len(answer.body)))
        return answer

    async def _call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        assert self._client is not None
        if name == "save_mask":
            self.masks.append(base64.b64decode(arguments["mask_png_base64"], validate=True))
            if "save_mask" not in self._tools:
                return self._save_mask(arguments["image"], self.masks[-1])
        return _dump(await self._client.call_tool(name, arguments))

    def _save_mask(self, image_id: str, png: bytes) -> dict[str, Any]:
        """save_mask's contract: {image, mask_png_base64} -> {path (workspace-relative), width, height}."""
        [source] = [p for p in self.workspace.rglob(f"*-{image_id}.*") if p.suffix in (".png", ".jpeg", ".webp")]
        with Image.open(source) as image, Image.open(io.BytesIO(png)) as mask:
            if mask.size != image.size:
                text = f"the mask is {mask.size}, the image {image.size}"
                return {"content": [{"type": "text", "text": text}], "isError": True}
        relative = f"masks/mask-for-{image_id}-{len(self.masks)}.png"
        (self.workspace / "masks").mkdir(exist_ok=True)
        (self.workspace / relative).write_bytes(png)
        data = {"path": relative, "width": mask.size[0], "height": mask.size[1]}
        return {"content": [{"type": "text", "text": json.dumps(data)}], "structuredContent": data, "isError": False}
