"""Failed dashboard logins per client address, in a sliding window: guessing the admin key
through the login form gets slow, and the wait is said, not hidden."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    def __init__(self, *, limit: int = 10, window_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def wait_seconds(self, who: str) -> float:
        """0 when `who` may try again; else how long until its oldest failure ages out."""
        failures = self._recent(who)
        if len(failures) < self._limit:
            return 0.0
        return max(0.0, failures[0] + self._window - self._clock())

    def failed(self, who: str) -> None:
        self._recent(who).append(self._clock())
        if len(self._failures) > 10_000:  # bounded: forget addresses with no recent failure
            for stale in [k for k, v in self._failures.items() if not v][:5_000]:
                del self._failures[stale]

    def succeeded(self, who: str) -> None:
        self._failures.pop(who, None)

    def _recent(self, who: str) -> deque[float]:
        failures = self._failures.setdefault(who, deque())
        cutoff = self._clock() - self._window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures
