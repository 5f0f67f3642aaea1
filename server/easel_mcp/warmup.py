"""Right after the MCP handshake, build in the background what the first call would otherwise build.

Start-up stays lean (nothing here runs before the handshake is over); after the first message past the
handshake (a host's `tools/list`, a 2026-07-28 client's first request), one background task registers the
tools, imports the modules of a call's path
(the service, validation, the image codec) in a worker thread, builds the engine and lets the default provider
build its client (the SDK import: a few hundred milliseconds). A call that arrives meanwhile simply finds
part of it done; a warm-up that fails costs only the first call's speed, never the server.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext

if TYPE_CHECKING:
    from easel_mcp.studio import Studio

log = logging.getLogger("easel_mcp")

# The modules a generate or edit call imports on its way (function-local imports, kept out of start-up).
FIRST_CALL_MODULES = (
    "easel_mcp.catalog.validate",
    "easel_mcp.catalog.estimate",
    "easel_mcp.service.call",
    "easel_mcp.service.engine",
    "easel_mcp.service.settling",
    "easel_mcp.service.previews",
    "easel_mcp.outputs",
    "easel_mcp.inputs",
    "easel_mcp.index",
    "easel_mcp.imaging.io",
    "easel_mcp.imaging.preview",
)


HANDSHAKE = frozenset({"initialize", "notifications/initialized"})


class WarmUp(ServerMiddleware[Any]):
    """Server middleware: starts the warm-up once per process, after the first message past the handshake has
    been answered (so `initialize` and `tools/list` are never slowed by it). `register_tools` is the server's."""

    def __init__(self) -> None:
        self.started = False
        self.done = anyio.Event()
        self.register_tools: Callable[[], None] = lambda: None

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if not self.started and ctx.method not in HANDSHAKE:
            self.start(ctx.lifespan_context)
        return result

    def start(self, studio: Studio) -> None:
        task_group = getattr(studio, "task_group", None)
        if self.started or task_group is None:
            return
        self.started = True
        task_group.start_soon(self._run, studio, self.register_tools)

    async def _run(self, studio: Studio, register_tools: Callable[[], None]) -> None:
        try:
            await anyio.to_thread.run_sync(_prepare, register_tools)
            _ = studio.engine  # on the event loop: built once, by whoever comes first
            await studio.provider().warm_up()
        except Exception as e:  # only the first call's speed is at stake
            log.warning(
                "warm-up after the handshake stopped (%s: %s); the first call builds what is left", type(e).__name__, e
            )
        finally:
            self.done.set()
            log.debug("warm: tools, the call path and the provider's client are ready")


def _prepare(register_tools: Callable[[], None]) -> None:
    register_tools()
    prepare_imports()


def prepare_imports(*extra: str) -> None:
    """Import the modules of a call's path (and `extra` ones, e.g. an SDK), and load every image codec's plugin."""
    for name in (*FIRST_CALL_MODULES, *extra):
        try:
            importlib.import_module(name)
        except ImportError as e:  # never a reason not to serve
            log.debug("warm-up: %s not imported (%s)", name, e)
    from PIL import Image

    Image.init()  # every format plugin, once
