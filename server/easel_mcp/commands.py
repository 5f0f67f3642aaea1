"""The click command line of `easel-mcp` (everything but the stdio fast path in cli.main)."""

from __future__ import annotations

import sys
from typing import Any, cast

import click

from easel_mcp.cli_shared import EXIT_CONFIG, configure_logging, serve_stdio_or_http


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
def cli(ctx: click.Context) -> None:
    """Easel: an MCP image studio for LLM agents. Without a command: serve MCP over stdio."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@cli.command()
@click.option("--transport", type=click.Choice(["stdio", "http", "sse"]), default="stdio", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP bind address.")
@click.option("--port", type=int, default=8000, show_default=True, help="HTTP port.")
@click.option(
    "--stateless",
    is_flag=True,
    help="Streamable HTTP without sessions: any replica behind a load balancer answers any request.",
)
def serve(transport: str = "stdio", host: str = "127.0.0.1", port: int = 8000, stateless: bool = False) -> None:
    """Run the MCP server (stdio, or streamable HTTP at /mcp, or SSE at /sse)."""
    serve_stdio_or_http(transport, host, port, stateless=stateless)


@cli.command()
@click.option("--workspace", type=click.Path(file_okay=False), help="Workspace folder (default: a new temp folder).")
def demo(workspace: str | None) -> None:
    """Drive every tool through a real in-memory MCP client on the offline renderer."""
    from easel_mcp.demo import run_demo

    configure_logging("WARNING")
    sys.exit(run_demo(workspace))


@cli.command()
@click.option("--since", default=None, help="7d, 24h, 2w, today, month or a date (default: all time).")
@click.option("--by", type=click.Choice(["model", "day", "tool", "provider", "user"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def usage(since: str | None, by: str | None, as_json: bool) -> None:
    """What the image calls cost, from the ledger."""
    import json
    import sqlite3

    from easel_mcp.budgets import GroupBy
    from easel_mcp.ledger import format_report, parse_since
    from easel_mcp.settings import Settings
    from easel_mcp.storage.ports import open_ledger
    from easel_mcp.workspace import STATE_DIR

    settings = Settings()
    ledger = open_ledger(settings, settings.workspace_path().expanduser().resolve() / STATE_DIR)
    try:
        start = parse_since(since) if since else None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--since") from e
    report: dict[str, Any]
    if not ledger.exists():
        report = {
            "since": None,
            "by": by,
            "calls": 0,
            "images": 0,
            "cost_usd": 0.0,
            "estimated_usd": 0.0,
            "failed": 0,
            "open": 0,
            "groups": [],
        }
    else:
        from easel_mcp.errors import DatabaseUnavailable, LedgerUnreadable

        group = cast(GroupBy | None, by)
        try:
            report = ledger.report(since=start, by=group)
        except LedgerUnreadable as e:
            click.echo(f"easel-mcp: {e}", err=True)
            sys.exit(EXIT_CONFIG)
        except (sqlite3.OperationalError, DatabaseUnavailable) as e:  # busy, a full disk, or a database away
            click.echo(f"easel-mcp: cannot read the ledger now ({e}); try again in a moment", err=True)
            sys.exit(1)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (others need EASEL_AUTH_TOKEN).")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
def gallery(host: str, port: int, open_browser: bool) -> None:
    """Browse the workspace in a browser: thumbnails, filters, details, lineage and spend."""
    from easel_mcp.gallery.cli import run_gallery

    configure_logging("WARNING")
    sys.exit(run_gallery(host, port, open_browser))


@cli.command()
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--query", default=None, help="Words to find in prompts, names, models, tools.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def images(limit: int, query: str | None, as_json: bool) -> None:
    """List the newest images in the workspace."""
    import json

    from easel_mcp.settings import Settings
    from easel_mcp.storage.ports import open_index
    from easel_mcp.workspace import Workspace

    settings = Settings()
    index = open_index(settings, Workspace.open(settings.workspace_path()), None)  # PostgreSQL in team mode
    try:
        index.refresh()
        entries, _ = index.query(text=query, limit=limit)
    except ValueError as err:  # a query that is not text (a NUL, or bytes that are not UTF-8)
        raise click.BadParameter(str(err), param_hint="--query") from err
    finally:
        index.close()
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2))
        return
    for e in entries:
        cost = f"${e.cost_usd:.4f}" if e.cost_usd is not None else "-"
        size = f"{e.width}x{e.height}" if e.width else "?"
        click.echo(f"{e.created_at[:16]}  {e.id}  {e.operation:<9} {size:>9}  {cost:>8}  {e.relative_path}")
    if not entries:
        click.echo("no images yet", err=True)
