"""Failed dashboard logins slow down guessing, per address, and the wait ends."""

from __future__ import annotations

from pavedroad.ui.throttle import LoginThrottle


def test_the_limit_blocks_then_ages_out() -> None:
    now = [1000.0]
    throttle = LoginThrottle(limit=3, window_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait_seconds("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
        now[0] += 1
    assert throttle.wait_seconds("10.0.0.1") == 57  # the first failure ages out at 1060
    assert throttle.wait_seconds("10.0.0.2") == 0  # another address is not affected
    now[0] = 1060.5
    assert throttle.wait_seconds("10.0.0.1") == 0


def test_a_success_forgets_the_failures() -> None:
    throttle = LoginThrottle(limit=2, window_seconds=60, clock=lambda: 0.0)
    throttle.failed("a")
    throttle.succeeded("a")
    throttle.failed("a")
    assert throttle.wait_seconds("a") == 0
