"""Which figures the suite measures, in order."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

from benchmarks import calls, overhead, resources, team
from benchmarks.common import Figure


def _safe(name: str, fn: Callable[[], list[Figure]]) -> list[Figure]:
    try:
        return fn()
    except Exception:  # a broken figure must show as not measured, not stop the others
        traceback.print_exc(file=sys.stderr)
        return [Figure(name, None, None, "", "", False, "failed to measure")]


def measure_all(*, quick: bool) -> list[Figure]:
    reps = 3 if quick else 7
    figures: list[Figure] = []
    figures += _safe("stdio cold start", lambda: [calls.startup(reps)])
    figures += _safe("per-call overhead", lambda: list(calls.per_call(5 if quick else 20)))
    figures += _safe("per-call parts", lambda: overhead.breakdown(5 if quick else 20))
    figures += _safe("first calls", lambda: overhead.first_calls(quick))
    figures += _safe("preview", lambda: resources.preview(3 if quick else 9))
    figures += _safe("concurrency", lambda: calls.concurrency(quick))
    figures += _safe("memory", lambda: [resources.memory()])
    figures += _safe("ledger", lambda: resources.ledger(quick))
    figures += _safe("gallery index", lambda: [resources.gallery_index(quick)])
    if reason := team.missing():
        figures += team.skipped(team.NAMES, reason)
    else:
        figures += _safe("team throughput", lambda: [team.throughput(quick)])
        figures += _safe("PostgreSQL latency", lambda: team.postgres_latency(quick))
        figures += _safe("reservations", lambda: team.reservations(quick))
    return figures


__all__ = ["Figure", "measure_all"]
