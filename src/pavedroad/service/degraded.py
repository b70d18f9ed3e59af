"""What a request does when shared state (Redis) is unreachable: its app's `fail_mode` decides.

`open` (the default) serves the request without the limit or budget that could not be
checked; `closed` refuses it with 503 `store_unavailable`. Either way it is counted in
`pavedroad_shared_state_unavailable_total` and logged at most once every few seconds, so an
outage neither floods the log nor passes unnoticed (docs/adr/0013-redis-scale-out.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

from pavedroad.core.errors import BackendUnavailable, StoreUnavailable
from pavedroad.core.types import Caller

log = logging.getLogger("pavedroad.degraded")
LOG_EVERY_SECONDS = 10.0


class Degraded:
    def __init__(self, registry: CollectorRegistry | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._logged: dict[str, float] = {}
        self.count = Counter(
            "pavedroad_shared_state_unavailable",
            "Calls to shared state (Redis) that failed, by part (rate_limits, budgets, "
            "deployment_limits) and what happened (allowed, refused, not_settled).",
            ["part", "outcome"], registry=registry or CollectorRegistry())

    def admit(self, caller: Caller, part: str, exc: BackendUnavailable) -> None:
        """Return to serve the request without `part`; raise when its app fails closed."""
        if not caller.fail_open:
            self.count.labels(part, "refused").inc()
            self._log(part, "refusing requests of apps that fail closed", exc)
            raise StoreUnavailable(
                f"the shared store (Redis) is unreachable, so {part.replace('_', ' ')} cannot "
                "be checked, and this app is set to fail closed; retry shortly") from exc
        self.count.labels(part, "allowed").inc()
        self._log(part, "serving requests without them (fail open)", exc)

    def not_settled(self, part: str, exc: BackendUnavailable) -> None:
        """A release or settlement was lost: leases and the ledger make up for it."""
        self.count.labels(part, "not_settled").inc()
        self._log(part, "releases are lost until it is back (leases lapse)", exc)

    def _log(self, part: str, what: str, exc: BackendUnavailable) -> None:
        now = self._clock()
        if now - self._logged.get(part, -LOG_EVERY_SECONDS) >= LOG_EVERY_SECONDS:
            self._logged[part] = now
            log.warning("%s: shared state unavailable (%s); %s", part, exc, what)
