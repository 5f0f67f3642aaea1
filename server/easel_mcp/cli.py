"""`easel-mcp`: serve the MCP server (stdio by default), and commands for people.

stdout belongs to the stdio protocol while serving; everything else is logged to stderr. The
image commands (generate, edit, inpaint, outpaint, estimate) are built from the tools' own input
schemas (see cli_tools.py), so the CLI never carries a second copy of the parameters.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, Literal, cast

import click

if TYPE_CHECKING:
    from easel_mcp.app import EaselServer

log = logging.getLogger("easel_mcp")


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class _Group(click.Group):
    """Adds the image commands lazily, so serving stdio never builds them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from easel_mcp.cli_tools import COMMANDS

        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        from easel_mcp.cli_tools import COMMANDS, build_command

        return build_command(cmd_name) if cmd_name in COMMANDS else None


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="easel-mcp")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Easel: an MCP image studio for LLM agents. Without a command: serve MCP over stdio."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
@click.option("--transport", type=click.Choice(["stdio", "http", "sse"]), default="stdio", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP bind address.")
@click.option("--port", type=int, default=8000, show_default=True, help="HTTP port.")
def serve(transport: str = "stdio", host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the MCP server (stdio, or streamable HTTP at /mcp, or SSE at /sse)."""
    from easel_mcp.errors import ConfigurationError
    from easel_mcp.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level)
    try:
        from easel_mcp.app import build_server

        server = build_server(settings)
        studio = server.studio
        log.info("Easel ready: workspace %s, provider %s, model %s, transport %s",
                 studio.workspace.root, studio.default_provider, settings.model, transport)
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


@main.command()
@click.option("--workspace", type=click.Path(file_okay=False), help="Workspace folder (default: a new temp folder).")
def demo(workspace: str | None) -> None:
    """Drive every tool through a real in-memory MCP client on the offline renderer."""
    from easel_mcp.demo import run_demo

    configure_logging("WARNING")
    sys.exit(run_demo(workspace))


@main.command()
@click.option("--since", default=None, help="7d, 24h, 2w, today, month or a date (default: all time).")
@click.option("--by", type=click.Choice(["model", "day", "tool", "provider"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def usage(since: str | None, by: str | None, as_json: bool) -> None:
    """What the image calls cost, from the ledger."""
    import json

    from easel_mcp.ledger import Ledger, format_report, parse_since
    from easel_mcp.settings import Settings
    from easel_mcp.workspace import STATE_DIR

    path = Settings().workspace_path().expanduser().resolve() / STATE_DIR / "ledger.sqlite3"
    try:
        start = parse_since(since) if since else None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--since") from e
    report: dict[str, Any]
    if not path.exists():
        report = {"since": None, "by": by, "calls": 0, "images": 0, "cost_usd": 0.0, "estimated_usd": 0.0,
                  "failed": 0, "open": 0, "groups": []}
    else:
        group = cast(Literal["model", "day", "tool", "provider"] | None, by)
        report = Ledger(path).report(since=start, by=group)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


if __name__ == "__main__":  # pragma: no cover
    main()
