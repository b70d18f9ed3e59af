"""The circuit breaker's state machine, driven by a fake clock."""

from __future__ import annotations

from pavedroad.config import BreakerConfig
from pavedroad.routing.breaker import BreakerState, LocalBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_recovers_through_half_open() -> None:
    clock = Clock()
    breaker = LocalBreaker(BreakerConfig(consecutive_failures=3, cooldown_seconds=10),
                           clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()          # the one probe
    assert not breaker.allow()      # no second probe while it is in flight
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()


def test_failed_probe_reopens() -> None:
    clock = Clock()
    breaker = LocalBreaker(BreakerConfig(consecutive_failures=1, cooldown_seconds=5), clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 4
    assert not breaker.allow()


def test_success_resets_the_consecutive_count() -> None:
    breaker = LocalBreaker(BreakerConfig(consecutive_failures=2, min_requests=100))
    for _ in range(10):
        breaker.record_failure()
        breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_error_rate_over_the_window_opens() -> None:
    clock = Clock()
    config = BreakerConfig(consecutive_failures=100, error_rate=0.5, min_requests=10,
                           window_seconds=30)
    breaker = LocalBreaker(config, clock=clock)
    for i in range(10):
        clock.now += 1
        if i % 2:
            breaker.record_failure()
        else:
            breaker.record_success()
    assert breaker.state is BreakerState.OPEN


def test_old_outcomes_leave_the_window() -> None:
    clock = Clock()
    config = BreakerConfig(consecutive_failures=100, error_rate=0.5, min_requests=4,
                           window_seconds=10)
    breaker = LocalBreaker(config, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    clock.now += 60
    for _ in range(3):
        breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_disabled_breaker_always_allows() -> None:
    breaker = LocalBreaker(BreakerConfig(enabled=False, consecutive_failures=1))
    for _ in range(5):
        breaker.record_failure()
    assert breaker.allow()
