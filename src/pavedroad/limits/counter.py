"""Counters behind rate limits: the `CounterStore` protocol and its in-process implementation.

A request is admitted against *all* of its limits or none: `take` checks every claim and
applies them together, so a refused request never consumes any limit, and two requests
racing for the last slot can never both win. Rate claims are token buckets (a bucket holds
up to `limit` and refills at `limit / window` per second); gauge claims count things in use
(concurrent requests) and only `give` returns them.

`limits.redis_counter.RedisCounterStore` implements the same protocol in Redis, shared by
every replica: `take` and `give` are one Lua script each over all the claims' keys
(docs/adr/0008-limits-and-budgets.md, docs/adr/0013-redis-scale-out.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

# A refused gauge (concurrency) claim frees up when some request ends; nobody knows when,
# so callers are told to come back after this long.
GAUGE_RETRY_SECONDS = 1.0


@dataclass(slots=True, frozen=True)
class Claim:
    """Take `amount` from counter `key`, whose capacity is `limit`.

    `window` is the seconds a bucket takes to refill from empty to `limit` (60 for per-minute
    limits); None makes the counter a gauge of things in use, given back by `give`.
    """

    key: str
    limit: int
    amount: int = 1
    window: float | None = 60.0

    @property
    def is_gauge(self) -> bool:
        return self.window is None


@dataclass(slots=True, frozen=True)
class Level:
    """A counter's state after an admission (or now, when refused)."""

    limit: int
    remaining: int
    reset: float  # seconds until the counter is back at its full capacity


@dataclass(slots=True, frozen=True)
class Admission:
    levels: tuple[Level, ...]  # one per claim, in the claims' order
    refused: int | None = None  # index of the first claim that refused; None: admitted
    retry_after: float = 0.0  # when refused: seconds until every refused claim could admit

    @property
    def admitted(self) -> bool:
        return self.refused is None


class CounterStore(Protocol):
    """Atomic counters shared by everything that enforces the same limits.

    `holder` names the request (its id), so a store that must survive a replica crashing
    with gauge slots held can lease them per holder and expire the leases.
    """

    async def take(self, claims: Sequence[Claim], *, holder: str) -> Admission:
        """All or nothing: take every claim's amount, or none when any claim lacks it.

        A rate claim is admitted when its bucket holds `min(amount, limit)` (a request larger
        than the whole limit is admitted into a full bucket and leaves it in debt); a gauge
        claim when `in use + amount <= limit`.
        """
        ...

    async def give(self, claims: Sequence[Claim], *, holder: str) -> None:
        """Give `amount` back to each counter, unconditionally: frees gauge slots and refunds
        buckets (never above `limit`). A negative amount takes more without checking, which
        may leave a bucket in debt (a request that used more tokens than estimated)."""
        ...


class LocalCounterStore:
    """Counters in this process's memory. Atomic because nothing in `take` awaits."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (level, as of)
        self._gauges: dict[str, int] = {}

    def _level(self, claim: Claim, now: float) -> float:
        found = self._buckets.get(claim.key)
        if found is None:
            return float(claim.limit)
        level, at = found
        assert claim.window is not None
        # The limit may have changed since: a full bucket is full at the new limit too.
        return min(float(claim.limit), level + (now - at) * claim.limit / claim.window)

    async def take(self, claims: Sequence[Claim], *, holder: str) -> Admission:
        now = self._clock()
        current: list[float] = []
        refused: int | None = None
        wait = 0.0
        for i, claim in enumerate(claims):
            if claim.is_gauge:
                used = self._gauges.get(claim.key, 0)
                current.append(float(used))
                if used + claim.amount > claim.limit:
                    refused = i if refused is None else refused
                    wait = max(wait, GAUGE_RETRY_SECONDS)
                continue
            level = self._level(claim, now)
            current.append(level)
            need = min(claim.amount, claim.limit)
            if level < need:
                refused = i if refused is None else refused
                assert claim.window is not None
                wait = max(wait, (need - level) * claim.window / claim.limit)
        if refused is None:
            for i, claim in enumerate(claims):
                current[i] = self._apply(claim, current[i], -claim.amount, now)
        levels = tuple(level_of(claim, value) for claim, value in zip(claims, current, strict=True))
        return Admission(levels, refused, wait)

    async def give(self, claims: Sequence[Claim], *, holder: str) -> None:
        now = self._clock()
        for claim in claims:
            current = (float(self._gauges.get(claim.key, 0)) if claim.is_gauge
                       else self._level(claim, now))
            self._apply(claim, current, claim.amount, now)

    def _apply(self, claim: Claim, current: float, delta: int, now: float) -> float:
        """Add `delta` to a counter's capacity left (negative: use it up); the new value."""
        if claim.is_gauge:
            used = max(0, int(current) - delta)
            if used:
                self._gauges[claim.key] = used
            else:
                self._gauges.pop(claim.key, None)
            return float(used)
        level = min(float(claim.limit), current + delta)
        if level >= claim.limit:
            self._buckets.pop(claim.key, None)  # a full bucket is the same as none: no growth
        else:
            self._buckets[claim.key] = (level, now)
        return level


def level_of(claim: Claim, value: float) -> Level:
    """What callers see of a counter: a bucket's level, or a gauge's units in use."""
    if claim.is_gauge:
        return Level(claim.limit, max(0, claim.limit - int(value)), 0.0)
    assert claim.window is not None
    missing = max(0.0, claim.limit - value)
    return Level(claim.limit, max(0, math.floor(value)), missing * claim.window / claim.limit)
