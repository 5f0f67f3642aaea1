"""`easel-mcp`: serve the MCP server (stdio by default) and commands for people.

stdout belongs to the stdio protocol while serving; everything else is logged to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from easel_mcp.app import EaselServer

log = logging.getLogger("easel_mcp")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="easel-mcp", description="Easel: an MCP image studio for LLM agents.")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the MCP server (default: stdio)")
    serve.add_argument("--transport", choices=["stdio", "http", "sse"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    demo = sub.add_parser("demo", help="drive every tool through a real in-memory MCP client and show the files")
    demo.add_argument("--workspace", help="workspace folder for the demo (default: a new temporary folder)")
    usage = sub.add_parser("usage", help="what the image calls cost, from the ledger")
    usage.add_argument("--since", default=None, help="7d, 24h, 2w, today, month or a date (default: all time)")
    usage.add_argument("--by", choices=["model", "day", "tool", "provider"], default=None)
    usage.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    if command == "demo":
        from easel_mcp.demo import run_demo

        _configure_logging("WARNING")
        sys.exit(run_demo(args.workspace))
    if command == "usage":
        sys.exit(_usage(args.since, args.by, args.json))
    _serve(getattr(args, "transport", "stdio"), getattr(args, "host", "127.0.0.1"), getattr(args, "port", 8000))


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


def _usage(since: str | None, by: str | None, as_json: bool) -> int:
    import json

    from easel_mcp.ledger import Ledger, format_report, parse_since
    from easel_mcp.settings import Settings
    from easel_mcp.workspace import STATE_DIR

    settings = Settings()
    path = settings.workspace_path().expanduser().resolve() / STATE_DIR / "ledger.sqlite3"
    try:
        start = parse_since(since) if since else None
    except ValueError as e:
        print(f"easel-mcp usage: {e}", file=sys.stderr)
        return 2
    report: dict[str, Any]
    if not path.exists():
        report = {"since": None, "by": by, "calls": 0, "images": 0, "cost_usd": 0.0, "estimated_usd": 0.0,
                  "failed": 0, "open": 0, "groups": []}
    else:
        group = cast(Literal["model", "day", "tool", "provider"] | None, by)
        report = Ledger(path).report(since=start, by=group)
    print(json.dumps(report, indent=2) if as_json else format_report(report))
    return 0


def _serve(transport: str, host: str, port: int) -> None:
    from easel_mcp.errors import ConfigurationError
    from easel_mcp.settings import Settings

    settings = Settings()
    _configure_logging(settings.log_level)
    try:
        from easel_mcp.app import build_server

        server = build_server(settings)
        studio = server.studio
        log.info(
            "Easel ready: workspace %s, provider %s, model %s, transport %s",
            studio.workspace.root, studio.default_provider, settings.model, transport,
        )
        if transport == "stdio":
            import anyio

            anyio.run(_run_stdio, server)
        else:
            from easel_mcp.http import serve_http

            token = settings.auth_token.get_secret_value() if settings.auth_token else None
            serve_http(server, "sse" if transport == "sse" else "http", host, port, token, settings.log_level)
    except ConfigurationError as e:
        log.error("%s", e)
        sys.exit(2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":  # pragma: no cover
    main()
