"""The tools' listing, precomputed, so that start-up does not build every tool's schema.

Hosts spawn the server at start-up and ask for `initialize` and `tools/list` at once. Building the
tools (pydantic models and JSON Schemas for eleven tools) costs more than the rest of Easel's start;
so `tools/list` is answered from `schemas/tools.json`, written by `python -m easel_mcp.schemas.export`
from a fully built server, and the tools themselves are registered on the first call. The file
carries a fingerprint of the modules that define the tools: if they changed since, it is ignored and
the tools are built at once (tests also compare it with the built listing).
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger("easel_mcp")
PACKAGE = Path(__file__).resolve().parent
CACHE_FILE = PACKAGE / "schemas" / "tools.json"
SOURCES = ("tools", "schemas", "ui")


def fingerprint() -> str:
    """A hash of every file that shapes the tool listing (tool modules, result models, app URIs)."""
    digest = hashlib.sha256()
    for folder in SOURCES:
        for path in sorted((PACKAGE / folder).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    for extra in ("catalog/validate.py", "retouch.py"):  # types the tools' parameters use
        digest.update((PACKAGE / extra).read_bytes())
    return digest.hexdigest()


@cache
def cached_listing() -> list[dict[str, Any]] | None:
    """The precomputed tools/list entries, or None when missing or out of date."""
    try:
        data = json.loads(CACHE_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint():
        log.debug("tool listing cache is out of date; building the tools at start-up")
        return None
    tools = data.get("tools")
    return tools if isinstance(tools, list) else None


def render(tools: list[dict[str, Any]]) -> str:
    return json.dumps({"fingerprint": fingerprint(), "tools": tools}, indent=1, sort_keys=True) + "\n"
