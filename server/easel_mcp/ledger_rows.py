"""What every ledger backend (SQLite, PostgreSQL) shares: the attempt a reservation returns, the settle rules
(what a settled row costs and counts), the token counts of a usage object, and the stored formats."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from easel_mcp.times import ledger_time


@dataclass(frozen=True)
class Attempt:
    """A row begin() reserved: pass it to mark_sent() and settle()."""

    id: int
    started_at: datetime
    estimated_usd: float | None
    reserved_usd: float


def report_of(
    since: datetime | None, by: str | None, totals: Sequence[Any], groups: list[dict[str, Any]]
) -> dict[str, Any]:
    """The usage report every ledger answers: `totals` are calls, images, cost, estimated, failed, open."""
    calls, images, cost, estimated, failed, open_ = totals
    return {
        "since": ledger_time(since) if since is not None else None,
        "by": by,
        "calls": int(calls),
        "images": int(images),
        "cost_usd": float(cost),
        "estimated_usd": float(estimated),
        "failed": int(failed),
        "open": int(open_),
        "groups": groups,
    }


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _first(usage: dict[str, Any], *keys: str) -> Any:
    """The first key present: OpenAI's usage names, then Gemini's usageMetadata names."""
    return next((usage[k] for k in keys if k in usage), None)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def usage_tokens(usage: dict[str, Any] | None) -> tuple[int | None, int | None]:
    """(input, output) tokens of a usage object: OpenAI's names, then Gemini's usageMetadata names."""
    if not usage:
        return None, None
    return (
        _int(_first(usage, "input_tokens", "promptTokenCount")),
        _int(_first(usage, "output_tokens", "candidatesTokenCount")),
    )


def settled_amounts(
    attempt: Attempt, status: str, cost_usd: float | None, billed: bool | None
) -> tuple[float | None, int, float, bool | None]:
    """(cost, cost_estimated, counted, billed) of a settled attempt, the same for every ledger backend.
    Unknown cost or unknown billing keeps the reservation counted (conservative)."""
    if billed is None and status == "ok":
        billed = True
    if billed is False:
        return 0.0, 0, 0.0, billed
    if cost_usd is not None:
        return cost_usd, 0, cost_usd, billed
    if billed:
        return attempt.estimated_usd, 1, attempt.reserved_usd, billed
    return None, 0, attempt.reserved_usd, billed
