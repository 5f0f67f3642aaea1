"""Text that cannot be stored or searched: NUL characters and lone surrogates (JSON may carry both).

SQLite's full-text search stops at a NUL and UTF-8 has no encoding for a lone surrogate: such text
in a filter or an argument would fail deep inside a query as a bare error. It is refused up front.
"""

from __future__ import annotations

from typing import Any


def text_problem(value: str) -> str | None:
    """Why `value` cannot be used as text, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (it holds a lone surrogate such as \\ud800)"
    return None


def check_text(name: str, value: str | None) -> None:
    """Raise ValueError naming `name` when `value` cannot be used as text."""
    if value is not None and (problem := text_problem(value)) is not None:
        raise ValueError(f"{name} {problem}; remove it and try again")


def bad_text_paths(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, problem) of every string in a JSON-like value (keys included) that cannot be used as text."""
    out: list[tuple[str, str]] = []
    if isinstance(value, str):
        if (problem := text_problem(value)) is not None:
            out.append((path, problem))
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (problem := text_problem(key)) is not None:
                out.append((repr(key), f"(an argument name) {problem}"))
            else:
                out += bad_text_paths(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += bad_text_paths(item, f"{path}[{i}]")
    return out
