"""A moving estimate of each deployment's latency, for least-latency routing."""

from __future__ import annotations


class LatencyTracker:
    """Exponentially weighted mean; deployments never measured sort first (get explored)."""

    def __init__(self, *, alpha: float = 0.2) -> None:
        self._alpha = alpha
        self.value: float | None = None

    def observe(self, seconds: float) -> None:
        self.value = seconds if self.value is None else (
            self._alpha * seconds + (1 - self._alpha) * self.value
        )

    def estimate(self) -> float:
        return 0.0 if self.value is None else self.value
