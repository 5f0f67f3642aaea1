"""Small helpers shared by the providers (no vendor SDK, no HTTP stack imported here)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# Key shapes that error bodies sometimes echo: OpenAI (sk-/rk-/pk-), Google (AIza...), and bearer tokens.
_KEY_PATTERNS = (
    re.compile(r"\b(sk|rk|pk)-[A-Za-z0-9_\-*]{6,}"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{10,}"),
    re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9_\-.=+/]{12,}"),
)


def redact(text: str, secrets: Iterable[str | None] = (), limit: int = 800) -> str:
    """`text` without the given secret values or anything shaped like a key, cut to `limit` characters."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _KEY_PATTERNS[0].sub(r"\1-***", text)
    text = _KEY_PATTERNS[1].sub("AIza***", text)
    text = _KEY_PATTERNS[2].sub(r"\1 ***", text)
    return text[:limit]


def parse_header_list(text: str | None, *, setting: str) -> dict[str, str]:
    """Headers from a JSON object or 'Name=value,Name2=value2' (or 'Name: value'); ValueError says why not."""
    import json

    if text is None or not text.strip():
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{setting} is not valid JSON: {e.msg}") from None
        if not isinstance(raw, dict) or not all(isinstance(v, str | int | float) for v in raw.values()):
            raise ValueError(f"{setting} must be a JSON object of header name -> string value")
        pairs = [(str(k), str(v)) for k, v in raw.items()]
    else:
        pairs = []
        for item in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = item.partition("=")
            if not sep:
                name, sep, value = item.partition(":")
            if not sep:
                raise ValueError(f"{setting}: {name[:40]!r} is not Name=value")
            pairs.append((name.strip(), value.strip()))
    out: dict[str, str] = {}
    for name, value in pairs:
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise ValueError(f"{setting}: {name[:40]!r} is not a valid header name")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"{setting}: the value of {name} contains a line break")
        out[name] = value
    return out


def add_usage(total: dict[str, Any] | None, more: dict[str, Any]) -> dict[str, Any]:
    """Sum two usage blocks field by field (nested details too)."""
    out = dict(total or {})
    for key, value in more.items():
        if isinstance(value, dict):
            out[key] = add_usage(out.get(key) if isinstance(out.get(key), dict) else None, value)
        elif isinstance(value, int | float) and isinstance(out.get(key), int | float):
            out[key] = out[key] + value
        else:
            out[key] = value
    return out
