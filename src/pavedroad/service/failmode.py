"""What an app gets while the store is unreachable: served from memory, or refused.

Keys, the organisation, limits and budgets live in memory and the ledger buffers to its
journal, so serving on is safe for most apps ("fail open", the default). An app whose
policy demands that no request goes unrecorded in the store chooses "fail closed".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pavedroad.core.errors import StoreUnavailable
from pavedroad.service.pipeline import ChatResult, Exchange, Next


@dataclass(slots=True)
class StoreHealth:
    """Whether the last refresh reached the store; kept by the gateway's refresh loop."""

    ok: bool = True
    changed_at: float = field(default_factory=time.time)

    def set(self, ok: bool) -> bool:
        """Record a probe's result; True when the state changed."""
        if ok == self.ok:
            return False
        self.ok, self.changed_at = ok, time.time()
        return True


class FailMode:
    """Refuses requests of fail-closed apps while the store is unreachable."""

    def __init__(self, health: StoreHealth) -> None:
        self._health = health

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        if not self._health.ok and not exchange.request.caller.fail_open:
            raise StoreUnavailable(
                "the gateway's store is unreachable and this app is set to fail closed; "
                "retry shortly (an administrator can set the app's fail_mode to open)")
        return await call_next(exchange)
