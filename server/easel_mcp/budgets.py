"""Spending limits: the Budgets a call is checked against, the UTC periods they cover, and the refusals.

Pure logic: the ledger (`easel_mcp.ledger`) calls `check_budgets` inside its write transaction and passes
a `spent(start, end)` function that sums what the rows of a period count against the budgets. Also the money
text for people: `usd`, and the CLI's `parse_since` and `format_report` (both re-exported by the ledger).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from easel_mcp.errors import BudgetExceeded
from easel_mcp.times import parse_time, utc

__all__ = ["utc"]  # re-exported: the ledgers' and settling's clock (owned by easel_mcp.times)

ENV_PER_CALL = "EASEL_MAX_COST_PER_CALL_USD"
ENV_DAILY = "EASEL_DAILY_BUDGET_USD"
ENV_MONTHLY = "EASEL_MONTHLY_BUDGET_USD"
ENV_USER_DAILY = "EASEL_USER_DAILY_BUDGET_USD"
ENV_USER_MONTHLY = "EASEL_USER_MONTHLY_BUDGET_USD"
ENV_PRICES = "EASEL_PRICES_FILE"
EPSILON_USD = 1e-9  # float sums of cents must not refuse a call that fits exactly

SpentFn = Callable[[datetime, datetime], float]
GroupBy = Literal["model", "day", "tool", "provider", "user"]  # how usage reports group the rows


@dataclass(frozen=True)
class Budgets:
    """Spending limits in USD; None means no limit. Days and months are UTC calendar periods. The user limits
    apply to each user's own calls (the subject of their OAuth token), on top of the limits for everyone."""

    max_cost_per_call_usd: float | None = None
    daily_usd: float | None = None
    monthly_usd: float | None = None
    user_daily_usd: float | None = None
    user_monthly_usd: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_cost_per_call_usd", "daily_usd", "monthly_usd", "user_daily_usd", "user_monthly_usd"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ValueError(f"{name} must be a finite amount of at least 0 USD, not {value!r}.")

    @property
    def any_limit(self) -> bool:
        limits = (self.max_cost_per_call_usd, self.daily_usd, self.monthly_usd, self.user_daily_usd)
        return any(v is not None for v in (*limits, self.user_monthly_usd))


def day_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the UTC calendar day containing `now`."""
    start = utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def month_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the UTC calendar month containing `now`."""
    start = utc(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def usd(amount: float) -> str:
    """$0.005, $0.42, $1.00, $1,234.56: cents always, up to 4 decimals when they matter."""
    if not math.isfinite(amount):
        return "an unknown amount"
    text = f"{abs(amount):,.4f}"
    whole, _, frac = text.partition(".")
    sign = "-" if amount < 0 and text.strip("0.,") else ""
    return f"{sign}${whole}.{frac.rstrip('0').ljust(2, '0')}"


def _limits(
    budgets: Budgets, spent: SpentFn, now: datetime, user_spent: SpentFn | None = None
) -> list[tuple[str, float, float, str]]:
    """(name with its setting, limit, left, period phrase) for every limit that is set (the user limits only
    with `user_spent`, what the calling user's own rows count)."""
    out: list[tuple[str, float, float, str]] = []
    if budgets.max_cost_per_call_usd is not None:
        limit = budgets.max_cost_per_call_usd
        out.append((f"per-call limit ({ENV_PER_CALL}={usd(limit)})", limit, limit, "per call"))
    for limit_or_none, env, kind, bounds, phrase in (
        (budgets.daily_usd, ENV_DAILY, "daily", day_bounds(now), "today (UTC)"),
        (budgets.monthly_usd, ENV_MONTHLY, "monthly", month_bounds(now), "this month (UTC)"),
    ):
        if limit_or_none is not None:
            left = max(0.0, limit_or_none - spent(*bounds))
            out.append((f"{kind} budget ({env}={usd(limit_or_none)})", limit_or_none, left, phrase))
    if user_spent is not None:
        for limit_or_none, env, kind, bounds, phrase in (
            (budgets.user_daily_usd, ENV_USER_DAILY, "daily", day_bounds(now), "today (UTC)"),
            (budgets.user_monthly_usd, ENV_USER_MONTHLY, "monthly", month_bounds(now), "this month (UTC)"),
        ):
            if limit_or_none is not None:
                left = max(0.0, limit_or_none - user_spent(*bounds))
                out.append((f"your {kind} budget ({env}={usd(limit_or_none)})", limit_or_none, left, phrase))
    return out


def check_budgets(
    budgets: Budgets,
    reserve_usd: float | None,
    *,
    model: str,
    spent: SpentFn,
    now: datetime,
    user_spent: SpentFn | None = None,
) -> None:
    """Raise BudgetExceeded unless a call costing up to `reserve_usd` fits every limit that is set.

    The message is one full sentence ending with a period, so a caller may catch the error and append advice.
    An unknown upper cost (None) passes only when no limit is set: otherwise no limit can be guaranteed.
    """
    limits = _limits(budgets, spent, now, user_spent)
    if not limits:
        return
    if reserve_usd is None:
        _, limit, left, _ = min(limits, key=lambda item: item[2])
        names = " and the ".join(item[0] for item in limits)
        plural = "s" if len(limits) > 1 else ""
        raise BudgetExceeded(
            f"the cost of {model} is unknown (it has no price in the price table), so the {names} cannot be "
            f"guaranteed: set {ENV_PRICES} to a price file that lists {model}, or remove the limit{plural}.",
            limit_usd=limit,
            estimate_usd=math.inf,
            left_usd=left,
        )
    for name, limit, left, phrase in limits:
        if reserve_usd > left + EPSILON_USD:
            has = f"allows at most {usd(limit)}" if phrase == "per call" else f"has {usd(left)} left"
            raise BudgetExceeded(
                f"this call could cost up to {usd(reserve_usd)} but the {name} {has} {phrase}.",
                limit_usd=limit,
                estimate_usd=reserve_usd,
                left_usd=left,
            )


def budget_left(
    budgets: Budgets, spent: SpentFn, now: datetime, user_spent: SpentFn | None = None
) -> dict[str, float | None]:
    """{"per_call", "today", "this_month"}: what may still be spent under each limit (for a user, the tighter
    of their own limit and everyone's); None where none is set."""
    left: dict[str, float | None] = {"per_call": None, "today": None, "this_month": None}
    keys = {"per call": "per_call", "today (UTC)": "today", "this month (UTC)": "this_month"}
    for _, _, amount, phrase in _limits(budgets, spent, now, user_spent):
        key = keys[phrase]
        current = left[key]
        left[key] = amount if current is None else min(current, amount)
    return left


_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhdw])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """'7d', '24h', '30m', '2w' (before now), 'today', 'month' (UTC starts), or an ISO date/time (UTC if naive)."""
    at = utc(now)
    word = text.strip().lower()
    if word == "today":
        return day_bounds(at)[0]
    if word == "month":
        return month_bounds(at)[0]
    span = _SPAN.match(word)
    try:
        if span:
            return at - timedelta(seconds=float(span.group(1)) * _UNIT_S[span.group(2)])
        return parse_time(text)
    except OverflowError as e:  # a span reaching before year 1, or a date that leaves it in UTC
        raise ValueError(
            f"the time {text[:40]!r} is out of range: use a shorter span (such as 30d or 52w), "
            "an ISO date between 0001-01-02 and 9999-12-30, or leave it out for all time."
        ) from e
    except ValueError:
        pass
    raise ValueError(
        f"cannot read the time {text!r}: use a span back from now such as 30m, 24h, 7d or 2w, "
        "'today' or 'month' (UTC), or an ISO date such as 2026-01-31."
    )


def format_report(report: dict[str, Any]) -> str:
    """The report as plain text for people: a totals line, then one line per group."""
    since = f"since {report['since']}" if report.get("since") else "all time"
    lines = [
        f"{report['calls']:,} calls, {report['images']:,} images, {usd(report['cost_usd'])} "
        f"(estimated {usd(report['estimated_usd'])}), {report['failed']:,} failed, "
        f"{report.get('open', 0):,} open ({since})."
    ]
    groups = report.get("groups") or []
    if groups:
        header = [str(report.get("by") or "group"), "calls", "images", "cost", "input tokens", "output tokens"]
        table = [header] + [
            [
                str(g["key"]),
                f"{g['calls']:,}",
                f"{g['images']:,}",
                usd(g["cost_usd"]),
                f"{g['input_tokens']:,}",
                f"{g['output_tokens']:,}",
            ]
            for g in groups
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines.append("")
        for row in table:
            cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
            lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
