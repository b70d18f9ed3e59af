"""A circuit breaker per deployment, on by default.

Opens on N consecutive failures or on an error rate over a sliding window; after a
cool-down it lets a few probe requests through (half-open) and closes again when they
succeed. `Breaker` is the interface a shared (Redis) implementation can also satisfy.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import IntEnum
from typing import Protocol

from pavedroad.config.models import BreakerConfig


class BreakerState(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class Breaker(Protocol):
    def allow(self) -> bool: ...

    def record_success(self) -> None: ...

    def record_failure(self) -> None: ...

    def release(self) -> None:
        """An allowed call ended with no verdict (the caller left); free its probe slot."""
        ...

    @property
    def state(self) -> BreakerState: ...


class LocalBreaker:
    """In-process breaker; all calls are O(1) amortised and never block."""

    def __init__(
        self, config: BreakerConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probes_in_flight = 0
        self._probe_successes = 0
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._failures_in_window = 0

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self._config.cooldown_seconds
        ):
            return BreakerState.HALF_OPEN
        return self._state

    def allow(self) -> bool:
        if not self._config.enabled:
            return True
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            return False
        if self._state is BreakerState.OPEN:  # cool-down just ended
            self._state = BreakerState.HALF_OPEN
            self._probes_in_flight = 0
            self._probe_successes = 0
        if self._probes_in_flight < self._config.half_open_probes:
            self._probes_in_flight += 1
            return True
        return False

    def record_success(self) -> None:
        self._consecutive = 0
        if self._state is BreakerState.HALF_OPEN:
            self._probe_successes += 1
            self._probes_in_flight = max(0, self._probes_in_flight - 1)
            if self._probe_successes >= self._config.half_open_probes:
                self._close()
            return
        self._remember(False)

    def release(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._probes_in_flight = max(0, self._probes_in_flight - 1)

    def record_failure(self) -> None:
        if not self._config.enabled:
            return
        if self._state is BreakerState.HALF_OPEN:
            self._open()
            return
        self._consecutive += 1
        self._remember(True)
        if self._consecutive >= self._config.consecutive_failures or self._rate_exceeded():
            self._open()

    def _remember(self, failed: bool) -> None:
        now = self._clock()
        self._outcomes.append((now, failed))
        self._failures_in_window += failed
        horizon = now - self._config.window_seconds
        while self._outcomes and self._outcomes[0][0] < horizon:
            _, old_failed = self._outcomes.popleft()
            self._failures_in_window -= old_failed

    def _rate_exceeded(self) -> bool:
        total = len(self._outcomes)
        return (
            total >= self._config.min_requests
            and self._failures_in_window / total >= self._config.error_rate
        )

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probes_in_flight = 0
        self._probe_successes = 0

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._outcomes.clear()
        self._failures_in_window = 0
