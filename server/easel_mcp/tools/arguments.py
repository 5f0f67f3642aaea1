"""Tool arguments: unknown names are refused, and argument errors are said in plain words.

Every tool's argument model forbids extra keys (`additionalProperties: false` in its input schema),
so a misspelt `qualty` or `dry_runn` is refused before anything runs, never silently dropped. The
SDK would report pydantic's own text (error types, input values, links); `check_arguments` validates
first and says which argument is wrong and what it accepts, with the closest valid name.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from pydantic import ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from easel_mcp.errors import InvalidRequest
from easel_mcp.text_checks import bad_text_paths

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.tools.base import Tool


def forbid_unknown_arguments(server: MCPServer[Any]) -> None:
    """Make every tool registered on `server` refuse arguments it does not declare."""
    for tool in server._tool_manager.list_tools():
        base = tool.fn_metadata.arg_model
        if base.model_config.get("extra") == "forbid":
            continue
        config = ConfigDict(**{**base.model_config, "extra": "forbid"})
        strict: type[ArgModelBase] = type(
            base.__name__, (base,), {"model_config": config, "__module__": base.__module__}
        )
        tool.fn_metadata.arg_model = strict
        tool.parameters = strict.model_json_schema(by_alias=True)


def check_arguments(tool: Tool, arguments: dict[str, Any]) -> None:
    """Raise a ToolError naming each wrong argument and what it accepts (nothing of pydantic's)."""
    if bad := bad_text_paths(arguments):
        message = f"invalid arguments for {tool.name}: " + "; ".join(f"{where!r} {problem}" for where, problem in bad)
        raise ToolError(f"Error executing tool {tool.name}: {message}") from InvalidRequest(message)
    try:
        tool.fn_metadata.validate_arguments(arguments)
    except ValidationError as e:
        problems = [describe(error, tool.parameters) for error in e.errors(include_url=False)]
        message = f"invalid arguments for {tool.name}: " + "; ".join(dict.fromkeys(problems))
        raise ToolError(f"Error executing tool {tool.name}: {message}") from InvalidRequest(message)


def describe(error: ErrorDetails, schema: dict[str, Any]) -> str:
    """One validation error as a sentence: the argument's path, and what is allowed."""
    loc = tuple(error["loc"])
    where = _path(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        known = _names_at(schema, loc[:-1])
        inside = f" in {_path(loc[:-1])}" if len(loc) > 1 else ""
        what = "argument" if len(loc) == 1 else "field"
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if close:
            return f"unknown {what} {name!r}{inside} (did you mean {close[0]!r}?)"
        return f"unknown {what} {name!r}{inside}; the {what}s are: {', '.join(known)}"
    if kind == "missing":
        return f"missing required {'argument' if len(loc) == 1 else 'field'} {where!r}"
    return f"{where!r}: {_plain(error['msg'])}"


def _plain(message: str) -> str:
    """pydantic's message without its 'Input should be' phrasing: 'must be ...'."""
    for prefix, plain in (("Input should be ", "must be "), ("Value error, ", ""), ("Assertion failed, ", "")):
        if message.startswith(prefix):
            return plain + message[len(prefix) :]
    return message[:1].lower() + message[1:]


def _path(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _names_at(schema: dict[str, Any], loc: Sequence[int | str]) -> list[str]:
    """The property names the input schema declares at `loc` (follows $ref, anyOf and items)."""
    defs = schema.get("$defs", {})
    node: Any = schema
    for part in [*loc, None]:
        node = _resolve(node, defs, want_items=isinstance(part, int))
        if part is None or node is None:
            break
        node = node.get("items") if isinstance(part, int) else node.get("properties", {}).get(part)
    return list(node.get("properties", {})) if isinstance(node, dict) else []


def _resolve(node: Any, defs: dict[str, Any], *, want_items: bool) -> Any:
    for _ in range(8):  # $ref -> anyOf -> $ref ... is shallow in these schemas
        if not isinstance(node, dict):
            return None
        if "$ref" in node:
            node = defs.get(str(node["$ref"]).rsplit("/", 1)[-1])
        elif "anyOf" in node:
            key = "items" if want_items else "properties"
            options = [o for o in node["anyOf"] if isinstance(o, dict) and o.get("type") != "null"]
            node = next((o for o in options if key in o or "$ref" in o), options[0] if options else None)
        else:
            return node
    return node
