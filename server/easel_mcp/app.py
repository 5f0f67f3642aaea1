"""Build the MCP server: tools, resources and prompts wired to a Studio. No logic of its own."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolResult,
    GetPromptResult,
    InputRequiredResult,
    ListResourcesResult,
    ListToolsResult,
    PaginatedRequestParams,
)
from mcp_types import Resource as MCPResource
from mcp_types import Tool as MCPTool
from pydantic.networks import AnyUrl

from easel_mcp import __version__
from easel_mcp.errors import FileTooLarge, WorkspaceError
from easel_mcp.imaging.formats import MIME_TYPES, mime_of_file, mime_type
from easel_mcp.settings import Settings
from easel_mcp.studio import Studio, open_studio
from easel_mcp.uris import DISPLAY_URI_TEMPLATE, IMAGE_URI_TEMPLATE, image_uri, parse_image_uri
from easel_mcp.warmup import WarmUp

RESOURCE_PAGE = 50

INSTRUCTIONS = """Easel is an image studio. generate_image makes new images from a prompt; edit_image
changes or combines existing ones; every result is saved in the workspace and returned as an id, a
path and a small preview. Pass image ids (or workspace-relative paths) to later calls. Results state
what each call cost; offline results are placeholders drawn without an AI model."""


class EaselServer(MCPServer[Studio]):
    """MCPServer that serves workspace images at easel://images/<id> with their own MIME type, and
    registers its tools on first use while tools/list is answered from the precomputed listing."""

    def __init__(self, studio: Studio, **kwargs: Any) -> None:
        self.studio = studio
        self._tools_registered = False
        self._tools_lock = threading.Lock()
        self.warm_up = WarmUp()  # after the handshake, in the background (warmup.py)
        self.warm_up.register_tools = self.ensure_tools
        super().__init__(**{**kwargs, "middleware": [*(kwargs.get("middleware") or ()), self.warm_up]})

    def ensure_tools(self) -> None:
        """Register the tools (once; the warm-up may do it from a worker thread while a call arrives)."""
        if self._tools_registered:
            return
        with self._tools_lock:
            if not self._tools_registered:
                register_tools(self)
                self._tools_registered = True

    async def list_tools(self) -> list[MCPTool]:
        from easel_mcp.tool_cache import cached_listing

        cached = None if self._tools_registered else cached_listing()
        if cached is not None:
            return [MCPTool.model_validate(t) for t in cached]
        self.ensure_tools()
        return await super().list_tools()

    async def run_stdio_async(self) -> None:
        """stdio, answering lines that are not one JSON-RPC message (`protocol.GuardedReadStream`)."""
        from mcp.server.stdio import stdio_server

        from easel_mcp.protocol import GuardedReadStream

        lowlevel = self._lowlevel_server
        async with stdio_server() as (read_stream, write_stream):
            guarded = GuardedReadStream(read_stream, write_stream)
            await lowlevel.run(guarded, write_stream, lowlevel.create_initialization_options())

    async def _handle_list_tools(
        self, ctx: ServerRequestContext[Studio], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        from easel_mcp.protocol import visible_tools

        return ListToolsResult(tools=visible_tools(await self.list_tools(), ctx))

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Studio, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        from easel_mcp.protocol import refuse

        self.ensure_tools()
        tool = self._tool_manager.get_tool(name)
        if tool is None:
            refuse("tools/call", f"Unknown tool: {name!r}; tools/list names the tools")
        from easel_mcp.tools.arguments import check_arguments

        check_arguments(tool, arguments)  # unknown or invalid arguments, said in plain words
        result = await super().call_tool(name, arguments, context)
        data = getattr(result, "structured_content", None) or {}
        if context is not None and (data.get("images") or (data.get("result") or {}).get("images")):
            await context.notify_resources_changed()  # 2026-07-28 subscribers: new easel://images/ entries
        return result

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Studio, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        from easel_mcp.protocol import refuse

        try:
            return await super().get_prompt(name, arguments, context)
        except ValueError as e:  # the SDK's unknown prompt, missing or invalid argument
            refuse("prompts/get", str(e))

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        self.ensure_tools()
        return super()._tool_input_schema(name)

    async def _handle_list_resources(
        self, ctx: ServerRequestContext[Studio], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        """The fixed resources, then the workspace's images from the index, newest first, a page at a time."""
        cursor = params.cursor if params else None
        resources = [] if cursor else await self.list_resources()

        def page() -> tuple[list[MCPResource], str | None]:
            index = self.studio.index
            index.refresh()
            try:
                entries, next_cursor = index.query(limit=RESOURCE_PAGE, cursor=cursor)
            except ValueError as e:
                raise MCPError(code=INVALID_PARAMS, message=f"invalid cursor: {e}") from e
            listed = [
                MCPResource(
                    uri=image_uri(e.id),
                    name=e.relative_path,
                    description=(e.prompt or "")[:200] or None,
                    mime_type=mime_type(e.format, MIME_TYPES["png"]),
                    size=e.bytes,
                )
                for e in entries
            ]
            return listed, next_cursor

        images, next_cursor = await anyio.to_thread.run_sync(page)
        return ListResourcesResult(resources=[*resources, *images], next_cursor=next_cursor)

    async def read_resource(
        self, uri: AnyUrl | str, context: Context[Studio, Any] | None = None
    ) -> Iterable[ReadResourceContents] | InputRequiredResult:
        parsed = parse_image_uri(str(uri))
        if parsed is None:
            return await super().read_resource(uri, context)
        image_id, display = parsed
        try:
            path, data = await anyio.to_thread.run_sync(self._read_image, image_id)
        except FileTooLarge as e:
            raise MCPError(code=INVALID_PARAMS, message=f"{e}; get_image shows its details and path") from e
        except WorkspaceError as e:
            raise ResourceNotFoundError(str(e)) from e
        if display:
            from easel_mcp.imaging.preview import display_rendition

            shown = await anyio.to_thread.run_sync(display_rendition, data)
            return [ReadResourceContents(content=shown.data, mime_type=shown.mime_type)]
        return [ReadResourceContents(content=data, mime_type=mime_of_file(path.name, MIME_TYPES["png"]))]

    def _read_image(self, image_id: str) -> tuple[Path, bytes]:
        """The image with this id, read safely (regular file, no links) and capped at MAX_INPUT_BYTES."""
        from easel_mcp.imaging.io import MAX_INPUT_BYTES

        path = self.studio.workspace.find_image(image_id)
        return path, self.studio.workspace.read_file(path, limit=MAX_INPUT_BYTES, what=image_uri(image_id))


def register_tools(server: MCPServer[Any]) -> None:
    """Every tool (they read the Studio from the lifespan state when called)."""
    from easel_mcp.tools import gallery, images, jobs, money, retouch
    from easel_mcp.tools.arguments import forbid_unknown_arguments

    images.register(server)
    gallery.register(server)
    retouch.register(server)
    money.register(server)
    jobs.register(server)
    forbid_unknown_arguments(server)  # every tool's schema: additionalProperties false


def tool_schemas() -> dict[str, dict[str, Any]]:
    """{tool name: input schema}, without a workspace or credentials (for the CLI and docs)."""
    bare: MCPServer[Any] = MCPServer(name="easel-schemas")
    register_tools(bare)
    return {t.name: t.input_schema for t in anyio.run(bare.list_tools)}


def build_server(settings: Settings, studio: Studio | None = None) -> EaselServer:
    """The Easel MCP server for `settings` (the workspace is opened and the provider checked here)."""
    studio = studio or open_studio(settings)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Studio]) -> AsyncIterator[Studio]:
        try:
            async with studio.running():
                yield studio
        finally:
            with anyio.CancelScope(shield=True):
                await studio.aclose()

    from easel_mcp.identity import JwtVerifier, OAuthConfig
    from easel_mcp.protocol import AdvertiseExtensions
    from easel_mcp.tasks import build_tasks
    from easel_mcp.tools.apps import build_apps

    oauth = OAuthConfig.from_settings(settings)
    apps = build_apps()
    server = EaselServer(
        studio,
        auth=oauth.auth_settings() if oauth else None,
        token_verifier=JwtVerifier(oauth) if oauth else None,
        extensions=[apps, build_tasks(settings)],
        middleware=[AdvertiseExtensions({apps.identifier: apps.settings()})],
        name="easel",
        title="Easel image studio",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level,
    )
    from easel_mcp.tool_cache import cached_listing
    from easel_mcp.tools import prompts

    if cached_listing() is None:
        server.ensure_tools()

    prompts.register(server)

    @server.resource(
        IMAGE_URI_TEMPLATE,
        name="workspace image",
        description="An image in the Easel workspace, by id (as returned by the image tools).",
        mime_type=MIME_TYPES["png"],
    )
    def workspace_image(image_id: str) -> bytes:  # pragma: no cover - EaselServer.read_resource serves reads
        return server._read_image(image_id)[1]

    @server.resource(
        DISPLAY_URI_TEMPLATE,
        name="workspace image, display size",
        description="The image at most 2048 px on its long side, JPEG (WebP with transparency), under 700 KB.",
        mime_type=MIME_TYPES["jpeg"],
    )
    def workspace_image_display(image_id: str) -> bytes:  # pragma: no cover - EaselServer.read_resource serves reads
        return server.studio.workspace.find_image(image_id).read_bytes()

    @server.resource(
        "easel://usage",
        name="usage",
        description="What the image calls cost: totals today and this month (UTC), by model, and the budget left.",
        mime_type="application/json",
    )
    async def usage() -> str:
        return await anyio.to_thread.run_sync(server.studio.usage_json)

    @server.resource(
        "easel://models",
        name="models",
        description="The image models of every configured provider, with sizes, features and prices.",
        mime_type="application/json",
    )
    async def models() -> str:
        from easel_mcp.catalog.listing import list_models

        settings = server.studio.settings
        listing = await anyio.to_thread.run_sync(
            lambda: list_models(server.studio.configured_providers(), server.studio.default_provider, settings.model)
        )
        return listing.model_dump_json(indent=2)

    return server
