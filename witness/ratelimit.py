"""Per-log request budgets: `qpd` add-checkpoint requests per day, as token buckets.

A log may burst up to one minute's budget (at least 2 requests, so that a 409
and its retry fit), then is held to its daily rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MIN_BURST = 2.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by origin, created on first use."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, origin: str, qpd: int) -> float:
        """Spend one request of `origin`'s budget: 0.0 if allowed, else seconds to wait."""
        rate = qpd / 86400
        burst = max(MIN_BURST, rate * 60)
        now = self._clock()
        bucket = self._buckets.get(origin)
        if bucket is None:
            bucket = self._buckets[origin] = _Bucket(burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate
