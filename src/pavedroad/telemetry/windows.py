"""Rolling sums over time buckets: the memory behind burn rates and spend baselines.

A series keeps one small array per bucket and drops buckets older than its horizon, so
memory stays bounded however much traffic passes; summing a window touches at most
`horizon / bucket` buckets, and the evaluator does that a few times a minute, not per
request.
"""

from __future__ import annotations

import math
from collections import deque


class RollingSeries:
    """Per-bucket sums of a fixed number of counters (e.g. total, bad, spend)."""

    __slots__ = ("_buckets", "_horizon", "_width", "bucket_seconds", "started")

    def __init__(self, *, width: int, bucket_seconds: float, horizon_seconds: float,
                 now: float) -> None:
        if bucket_seconds <= 0 or horizon_seconds < bucket_seconds:
            raise ValueError("need 0 < bucket_seconds <= horizon_seconds")
        self.bucket_seconds = bucket_seconds
        self._horizon = math.ceil(horizon_seconds / bucket_seconds) + 1
        self._width = width
        self._buckets: deque[tuple[int, list[float]]] = deque()
        self.started = now

    def add(self, now: float, values: tuple[float, ...]) -> None:
        index = int(now // self.bucket_seconds)
        if self._buckets and self._buckets[-1][0] >= index:  # (>: a clock step back)
            sums = self._buckets[-1][1]
        else:
            sums = [0.0] * self._width
            self._buckets.append((index, sums))
            self._trim(index)
        for i, value in enumerate(values):
            sums[i] += value

    def _trim(self, newest: int) -> None:
        while self._buckets and self._buckets[0][0] <= newest - self._horizon:
            self._buckets.popleft()

    def window(self, now: float, seconds: float, *, skip_seconds: float = 0.0) -> list[float]:
        """Sums over (now - skip - seconds, now - skip]; whole buckets, newest included."""
        newest = int((now - skip_seconds) // self.bucket_seconds)
        oldest = newest - max(1, round(seconds / self.bucket_seconds)) + 1
        totals = [0.0] * self._width
        for index, sums in reversed(self._buckets):
            if index > newest:
                continue
            if index < oldest:
                break
            for i, value in enumerate(sums):
                totals[i] += value
        return totals

    def observed_seconds(self, now: float) -> float:
        """How long this series has been collecting (its windows are no longer than this)."""
        return max(0.0, now - self.started)


def burn_rate(bad: float, total: float, objective: float) -> float:
    """How many times faster than allowed the error budget is being spent.

    With an objective of 99.9% the budget is 0.1% of requests; a window where 1.44% are
    bad burns at 14.4x. No traffic burns nothing.
    """
    if total <= 0:
        return 0.0
    return (bad / total) / (1.0 - objective)


def spend_anomaly(window_usd: float, window_seconds: float, baseline_usd: float,
                  baseline_seconds: float, *, factor: float, min_usd: float) -> float | None:
    """The window's spend rate as a multiple of the baseline's, when that is anomalous.

    None when it is not: too little money in the window to matter, or a rate within
    `factor` of the baseline. A baseline with no spend at all makes any spend above
    `min_usd` anomalous (reported as infinity).
    """
    if window_usd < min_usd or window_usd <= 0:
        return None
    rate = window_usd / window_seconds
    base = baseline_usd / baseline_seconds if baseline_seconds > 0 else 0.0
    if base <= 0:
        return math.inf
    ratio = rate / base
    return ratio if ratio >= factor else None
