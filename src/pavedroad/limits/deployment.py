"""Deployment limits (`deployments[].limits`): the `DeploymentGate` routing asks before each
attempt. Every attempt counts, retries included, since each one reaches the upstream."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from pavedroad.core.errors import BackendUnavailable
from pavedroad.core.types import Caller, ChatRequest, EmbeddingRequest, Limits, Usage
from pavedroad.limits.counter import Claim, CounterStore
from pavedroad.limits.rate import LimitedSubject, RatePlan, plan_for
from pavedroad.metering.tokens import estimate_prompt_tokens, tokens_for_chars
from pavedroad.routing.gate import Busy, Permit

Spawn = Callable[[Coroutine[Any, Any, None]], None]
PART = "deployment_limits"


class Unavailable(Protocol):
    """What to do when a shared counter store is unreachable (`service.degraded`)."""

    def admit(self, caller: Caller, part: str, exc: BackendUnavailable) -> None:
        """Return to go on without the limit; raise to refuse the request."""
        ...

    def not_settled(self, part: str, exc: BackendUnavailable) -> None: ...


class _NoPermit:
    def close(self, usage: Usage | None) -> None:
        return None


NO_PERMIT = _NoPermit()


class _Permit:
    def __init__(self, limiter: DeploymentLimiter, plan: RatePlan, holder: str) -> None:
        self._limiter = limiter
        self._plan = plan
        self._holder = holder
        self._closed = False

    def close(self, usage: Usage | None) -> None:
        if self._closed:
            return
        self._closed = True
        # An attempt that failed keeps its token estimate: the upstream may count it too.
        claims = self._plan.settlement(usage, served=True)
        if claims:
            self._limiter.spawn(self._limiter.give(claims, self._holder))


class DeploymentLimiter:
    def __init__(self, store: CounterStore, limits: Mapping[str, Limits], *, spawn: Spawn,
                 unavailable: Unavailable | None = None) -> None:
        self.store = store
        self.spawn = spawn
        self._unavailable = unavailable
        self._subjects = {name: LimitedSubject("deployment", name, name, lim)
                          for name, lim in limits.items() if not lim.empty}

    def __bool__(self) -> bool:
        return bool(self._subjects)

    async def admit(
        self, deployment: str, request: ChatRequest | EmbeddingRequest, *, holder: str
    ) -> Permit | Busy:
        subject = self._subjects.get(deployment)
        if subject is None:
            return NO_PERMIT
        tokens = request_tokens(request) if subject.limits.tpm is not None else 1
        plan = plan_for([subject], tokens=tokens)
        assert plan is not None
        try:
            admission = await self.store.take(plan.claims, holder=holder)
        except BackendUnavailable as exc:
            if self._unavailable is None:
                raise
            self._unavailable.admit(request.caller, PART, exc)  # raises when failing closed
            return NO_PERMIT
        if not admission.admitted:
            return Busy(admission.retry_after)
        return _Permit(self, plan, holder)

    async def give(self, claims: list[Claim], holder: str) -> None:
        try:
            await self.store.give(claims, holder=holder)
        except BackendUnavailable as exc:
            if self._unavailable is None:
                raise
            self._unavailable.not_settled(PART, exc)


def request_tokens(request: ChatRequest | EmbeddingRequest) -> int:
    """The prompt estimate of a chat request, or of an embedding request's input."""
    if isinstance(request, ChatRequest):
        return estimate_prompt_tokens(request.body)
    value = request.body.get("input")
    items = value if isinstance(value, list) else [value]
    total = 0
    for item in items:
        if isinstance(item, str):
            total += tokens_for_chars(len(item))
        elif isinstance(item, list):  # token ids, or arrays of them
            total += len(item)
        elif isinstance(item, int):
            total += 1
    return max(1, total)
