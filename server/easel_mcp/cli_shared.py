"""What the `easel-mcp` entry point and every command share: logging to stderr, the exit codes,
and serving the MCP server. No click here: the stdio fast path (`easel-mcp` with no arguments)
imports this module and nothing of the command line.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from easel_mcp.app import EaselServer

EXIT_OK, EXIT_UPSTREAM, EXIT_INVALID, EXIT_BUDGET, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

log = logging.getLogger("easel_mcp")


def configure_logging(level: str) -> None:
    from easel_mcp.netguard import RedactQueries

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactQueries())  # httpx2 logs every URL it fetched; signed URLs carry tokens in the query
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def serve_stdio_or_http(transport: str, host: str, port: int, *, stateless: bool = False) -> None:
    from easel_mcp.errors import ConfigurationError
    from easel_mcp.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level)
    try:
        from easel_mcp.app import build_server

        server = build_server(settings)
        studio = server.studio
        log.info(
            "Easel ready: workspace %s, provider %s, model %s, transport %s",
            studio.workspace.root,
            studio.default_provider,
            settings.model,
            transport,
        )
        if transport == "stdio":
            import anyio

            anyio.run(_run_stdio, server)
        else:
            from easel_mcp.http import HttpTransport, serve_http

            token = settings.auth_token.get_secret_value() if settings.auth_token else None
            kind: HttpTransport = "sse" if transport == "sse" else "http"
            serve_http(server, kind, host, port, token, settings.log_level, stateless=stateless)
    except ConfigurationError as e:
        from easel_mcp.errors import LedgerUnreadable

        log.error("%s", e)
        sys.exit(EXIT_CONFIG if isinstance(e, LedgerUnreadable) else 2)
    except KeyboardInterrupt:
        pass


async def _run_stdio(server: EaselServer) -> None:
    """Serve stdio until stdin closes or SIGTERM/SIGINT arrives; either way, calls already sent to the
    model finish and are written before the process exits (the engine's shut-down grace)."""
    import signal

    import anyio

    async with anyio.create_task_group() as tg:

        async def on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    log.info("%s: finishing running calls, then exiting", signal.Signals(signum).name)
                    tg.cancel_scope.cancel()
                    return

        tg.start_soon(on_signal)
        await server.run_stdio_async()
        tg.cancel_scope.cancel()
