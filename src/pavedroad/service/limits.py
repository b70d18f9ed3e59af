"""The rate-limit stage: admit a request against its caller's limits, release at the end."""

from __future__ import annotations

from pavedroad.core.errors import BackendUnavailable
from pavedroad.limits.counter import Claim, CounterStore
from pavedroad.limits.deployment import request_tokens
from pavedroad.limits.rate import RatePlan, admit, caller_subjects, plan_for
from pavedroad.service.background import Spawn
from pavedroad.service.degraded import Degraded
from pavedroad.service.pipeline import ChatResult, Exchange, Next


class RateLimits:
    """Requests/min, tokens/min and concurrency of the caller's key, app, team and tenant.

    Admission is all-or-nothing across every applicable limit. The concurrency slots and
    the tokens settlement are given back once, by a finalizer, however the exchange ends.
    """

    def __init__(self, store: CounterStore, *, spawn: Spawn,
                 degraded: Degraded | None = None) -> None:
        self._store = store
        self._spawn = spawn
        self._degraded = degraded or Degraded()

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        request = exchange.request
        subjects = caller_subjects(request.caller)
        if not subjects:
            return await call_next(exchange)
        needs_tokens = any(s.limits.tpm is not None for s in subjects)
        plan = plan_for(subjects, tokens=request_tokens(request) if needs_tokens else 1)
        if plan is None:
            return await call_next(exchange)
        try:
            headers = await admit(self._store, plan, holder=request.request_id)
        except BackendUnavailable as exc:  # shared counters unreachable: the app decides
            self._degraded.admit(request.caller, "rate_limits", exc)
            return await call_next(exchange)
        exchange.response_headers.update(headers)
        exchange.on_end(lambda ended: self._settle(ended, plan))
        return await call_next(exchange)

    def _settle(self, exchange: Exchange, plan: RatePlan) -> None:
        served = exchange.deployment is not None or exchange.cache_hit
        claims = plan.settlement(exchange.usage, served=served)
        if claims:
            self._spawn(self._give(claims, exchange.request.request_id))

    async def _give(self, claims: list[Claim], holder: str) -> None:
        try:
            await self._store.give(claims, holder=holder)
        except BackendUnavailable as exc:
            self._degraded.not_settled("rate_limits", exc)
