"""The spend report the browser gallery shows, over the caller's ledger: the sums since `since` grouped by day,
model, tool or provider, and the totals of today, this month and all time (UTC), of one user's rows with `user`.
A plain synchronous function: run it in a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from easel_mcp.errors import InvalidRequest
from easel_mcp.service.gallery import since_arg

if TYPE_CHECKING:
    from easel_mcp.budgets import GroupBy
    from easel_mcp.storage.ports import LedgerPort

LedgerSource = Callable[[], "LedgerPort | None"]  # the ledger, or None while there is none (no call made yet)

GROUPS = ("day", "model", "tool", "provider")


def spend_report(ledger: LedgerSource, *, by: str, since: str, user: str | None = None) -> dict[str, Any]:
    """{"report": the sums since `since` grouped `by`, "totals": {"today", "month", "all_time"}}; zero sums while
    there is no ledger. InvalidRequest for a group or a `since` it cannot read, before the ledger is opened."""
    from easel_mcp.budgets import day_bounds, month_bounds

    if by not in GROUPS:
        raise InvalidRequest(f"by must be one of {', '.join(GROUPS)}", field="by")
    start = since_arg(since)
    found = ledger()
    if found is None:
        zero = _zero()
        return {"report": {**zero, "by": by}, "totals": {"today": zero, "month": zero, "all_time": zero}}
    totals = {
        name: found.report(since=at, by=None, user=user)
        for name, at in (("today", day_bounds()[0]), ("month", month_bounds()[0]), ("all_time", None))
    }
    return {"report": found.report(since=start, by=cast("GroupBy", by), user=user), "totals": totals}


def _zero() -> dict[str, Any]:
    """The sums of no rows as every ledger reports them (`since` and `by` last: the gallery's order)."""
    from easel_mcp.ledger_rows import report_of

    sums = report_of(None, None, (0, 0, 0, 0, 0, 0), [])
    return {**{k: v for k, v in sums.items() if k not in ("since", "by")}, "since": None, "by": None}
