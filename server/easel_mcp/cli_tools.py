"""The image commands of `easel-mcp` (generate, edit, inpaint, outpaint, estimate), built from the
tools' own input schemas: one definition of every parameter, shared with the MCP tools.

Progress goes to stderr (a live line on a terminal, plain lines otherwise); the result to stdout
(`--json` for scripts). Exit codes: 0 done, 1 the upstream failed, 2 bad arguments or files,
3 refused by a budget, 4 configuration, 130 interrupted.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from easel_mcp.cli_shared import (
    EXIT_BUDGET,
    EXIT_CONFIG,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UPSTREAM,
)

COMMANDS = {
    "generate": "generate_image",
    "edit": "edit_image",
    "inpaint": "inpaint",
    "outpaint": "outpaint",
    "estimate": "estimate_cost",
}
SKIPPED = {"preview", "wait"}  # the CLI always waits and prints paths


def _unwrap(spec: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, null]` -> X (the CLI's 'not given' is the null)."""
    options = [s for s in spec.get("anyOf", []) if s.get("type") != "null"]
    return {**spec, **options[0]} if len(options) == 1 else spec


def _region(text: str) -> dict[str, Any]:
    """'120,80,300,400' or '120,80,300,400,ellipse' or a JSON object."""
    if text.lstrip().startswith("{"):
        value = json.loads(text)
        if not isinstance(value, dict):
            raise click.BadParameter("a region is a JSON object or x,y,width,height[,ellipse]")
        return value
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (4, 5) or not all(p.lstrip("-").isdigit() for p in parts[:4]):
        raise click.BadParameter(f"{text!r}: use x,y,width,height (pixels), optionally ,ellipse")
    x, y, w, h = (int(p) for p in parts[:4])
    return {"x": x, "y": y, "width": w, "height": h, **({"shape": parts[4]} if len(parts) == 5 else {})}


def _option(name: str, spec: dict[str, Any], required: bool) -> click.Parameter:
    base = _unwrap(spec)
    flag = "--" + name.replace("_", "-")
    kwargs: dict[str, Any] = {"help": spec.get("description"), "required": required, "show_default": True}
    if "default" in spec and spec["default"] is not None:
        kwargs["default"] = spec["default"]
    kind = base.get("type")
    if kind == "boolean":
        return click.Option([f"{flag}/--no-{flag[2:]}"], **kwargs)
    if "enum" in base:
        kwargs["type"] = click.Choice([str(v) for v in base["enum"]])
    elif kind == "integer":
        kwargs["type"] = int
    elif kind == "number":
        kwargs["type"] = float
    elif kind == "array":
        kwargs["multiple"] = True
        kwargs.pop("default", None)
        if "$ref" in base.get("items", {}):
            kwargs["help"] = (kwargs["help"] or "") + " Repeat the option; each x,y,width,height[,ellipse]."
            kwargs["callback"] = lambda _c, _p, values: [_region(v) for v in values] or None
    return click.Option([flag], **kwargs)


def build_command(name: str) -> click.Command:
    from easel_mcp.app import tool_schemas

    tool = COMMANDS[name]
    schema = tool_schemas()[tool]
    required = set(schema.get("required", []))
    params: list[click.Parameter] = []
    for prop, spec in schema["properties"].items():
        if prop in SKIPPED:
            continue
        if prop in ("prompt", "image") and prop in required:
            params.append(click.Argument([prop], required=True))
        else:
            params.append(_option(prop, spec, prop in required))
    params += [
        click.Option(["--workspace"], type=click.Path(file_okay=False), help="Workspace folder (EASEL_WORKSPACE)."),
        click.Option(["--json", "as_json"], is_flag=True, help="Print the result as JSON."),
    ]

    def callback(**values: Any) -> None:
        workspace, as_json = values.pop("workspace"), values.pop("as_json")
        args = {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()}
        args = {k: v for k, v in args.items() if v is not None and v != []}
        sys.exit(run_tool(tool, args, workspace=workspace, as_json=as_json))

    doc = (schema.get("description") or "").strip()
    from easel_mcp.tools import images, money, retouch

    descriptions = {
        "generate_image": images.GENERATE_DESCRIPTION,
        "edit_image": images.EDIT_DESCRIPTION,
        "inpaint": retouch.INPAINT_DESCRIPTION,
        "outpaint": retouch.OUTPAINT_DESCRIPTION,
        "estimate_cost": money.DESCRIPTION,
    }
    return click.Command(name, params=params, callback=callback, help=descriptions.get(tool, doc))


class _Display:
    """The current stage on stderr: one live line on a terminal, plain lines otherwise."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.last = ""
        self.live = sys.stderr.isatty()
        self._status: Any = None
        if self.live:
            from rich.console import Console

            self._status = Console(stderr=True).status("starting")
            self._status.start()

    def update(self, message: str) -> None:
        if message == self.last:
            return
        self.last = message
        elapsed = time.monotonic() - self.started
        if self._status is not None:
            self._status.update(f"{message}  [{elapsed:.0f} s]")
        else:
            print(f"[{elapsed:5.1f}s] {message}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()


def run_tool(tool: str, args: dict[str, Any], *, workspace: str | None, as_json: bool) -> int:
    import anyio

    from easel_mcp.cli_shared import configure_logging
    from easel_mcp.errors import BudgetExceeded, ConfigurationError, EaselError, InvalidRequest, WorkspaceError
    from easel_mcp.imaging.errors import ImagingError
    from easel_mcp.progress import listen
    from easel_mcp.settings import Settings

    configure_logging("WARNING")
    try:
        settings = Settings(workspace=Path(workspace)) if workspace else Settings()
        from easel_mcp.app import build_server

        server = build_server(settings)
    except ConfigurationError as e:
        print(f"easel-mcp: {e}", file=sys.stderr)
        return EXIT_CONFIG
    display = _Display()
    try:
        with listen(display.update):
            result = anyio.run(server.call_tool, tool, args)
    except KeyboardInterrupt:
        display.close()
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        display.close()
        cause = _root_cause(e)
        print(f"easel-mcp: {cause if isinstance(cause, EaselError) else e}", file=sys.stderr)
        if isinstance(cause, BudgetExceeded):
            return EXIT_BUDGET
        if isinstance(cause, ConfigurationError):
            return EXIT_CONFIG
        if isinstance(cause, InvalidRequest | WorkspaceError | ImagingError) or "validation error" in str(e):
            return EXIT_INVALID
        return EXIT_UPSTREAM
    display.close()
    data = getattr(result, "structured_content", None) or {}
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        print(_human(tool, data))
    for warning in data.get("warnings", []):
        print(f"note: {warning}", file=sys.stderr)
    return EXIT_OK


def _root_cause(e: BaseException) -> BaseException:
    from easel_mcp.errors import EaselError

    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, EaselError):
            return seen
        seen = seen.__cause__
    return e


def _human(tool: str, data: dict[str, Any]) -> str:
    if tool == "estimate_cost":
        total = data.get("total_usd")
        if total is None:
            return "the cost is unknown for this model: " + "; ".join(data.get("notes", []))
        span = f" (between ${data['min_usd']:.4f} and ${data['max_usd']:.4f})" if data.get("max_usd") else ""
        return (
            f"about ${total:.4f}{span} for {data['n']} image(s) of {data['size']} at {data['quality']} quality "
            f"with {data['model']}"
        )
    lines = [
        f"wrote {i['path']}  ({i['width']}x{i['height']} {i['format']}, {i['bytes']:,} bytes, id {i['id']})"
        for i in data.get("images", [])
    ]
    cost = data.get("cost_usd")
    cost_text = f"cost ${cost:.4f}" if cost is not None else "cost unknown"
    lines.append(
        f"{data.get('operation')} with {data.get('model')} on {data.get('provider')}: {cost_text}"
        f" (estimate ${data.get('estimated_cost_usd') or 0:.4f}), {data.get('elapsed_s', 0):.1f} s"
    )
    return "\n".join(lines)
