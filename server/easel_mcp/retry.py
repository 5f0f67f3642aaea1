"""When to try an upstream call again, deliberately: a retried generation can be billed twice.

Retried: connection failures before the request was sent; 429 rate_limit_exceeded (Retry-After
honoured up to a cap); 500, 502, 503, 504; a timeout or broken answer after the request was sent,
at most once (the first attempt stays in the ledger as possibly billed, so the budget counts it).
Never retried: other 4xx, insufficient_quota, moderation blocks, bad keys, unknown models.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from easel_mcp.errors import ProviderError, RateLimited, UpstreamUnavailable

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay_s: float = 1.0
    max_delay_s: float = 20.0
    retry_after_cap_s: float = 60.0


def next_delay(
    policy: RetryPolicy, error: ProviderError, attempt: int, *, rng: random.Random | None = None
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None when the error must not be retried."""
    if attempt >= policy.max_attempts:
        return None
    backoff = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (attempt - 1))
    jittered = backoff * (0.5 + (rng or random).random())
    if isinstance(error, RateLimited):
        if error.retry_after_s is not None:
            return min(max(error.retry_after_s, 0.0), policy.retry_after_cap_s)
        return jittered
    if not isinstance(error, UpstreamUnavailable):
        return None
    if error.status is not None:
        return jittered if error.status in RETRYABLE_STATUS else None
    if not error.sent:
        return jittered
    return jittered if attempt == 1 else None  # sent, then timed out or broke: once only


def billed(error: ProviderError) -> bool | None:
    """Whether a failed attempt was billed: rejected requests are not; an answer that broke after the
    request was sent may have been (unknown keeps the reservation counted)."""
    if error.billed:
        return True
    if isinstance(error, UpstreamUnavailable) and error.status is None and error.sent:
        return None
    return False
