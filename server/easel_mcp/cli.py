"""`easel-mcp`: serve the MCP server (stdio by default), and commands for people.

stdout belongs to the stdio protocol while serving; everything else is logged to stderr. What
hosts launch (`easel-mcp`, `easel-mcp serve`) starts the stdio server directly; every other
command line is parsed by click in `commands.py`, whose image commands are built from the tools'
own input schemas (see cli_tools.py).
"""

from __future__ import annotations

import sys

from easel_mcp.cli_shared import configure_logging, serve_stdio_or_http

__all__ = ["configure_logging", "main", "serve_stdio_or_http"]


def main(argv: list[str] | None = None) -> None:
    """Entry point. `easel-mcp` and `easel-mcp serve` (what hosts launch) go straight to the stdio
    server, so start-up does not pay for building the command line; everything else goes to click."""
    args = sys.argv[1:] if argv is None else argv
    if args in ([], ["serve"]):
        serve_stdio_or_http("stdio", "127.0.0.1", 8000)
        return
    from easel_mcp.commands import cli

    cli.main(args=args, prog_name="easel-mcp")


if __name__ == "__main__":  # pragma: no cover
    main()
