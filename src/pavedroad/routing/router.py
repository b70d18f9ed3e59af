"""Executes a routing plan: per-deployment retries with backoff, breakers, fallback.

The router knows deployments only as names with a provider behind the `Provider`
protocol; it never asks which provider that is. Every attempt is recorded in the
`RouteTrace`, which becomes the `x-pavedroad-route` header.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from pavedroad.config.models import ModelConfig
from pavedroad.config.references import route_targets
from pavedroad.core.errors import (
    CircuitOpen,
    ModelDisabled,
    ModelNotFound,
    NoDeploymentAvailable,
    PavedroadError,
    PolicyDenied,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from pavedroad.core.types import (
    Caller,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ChunkStream,
    EmbeddingRequest,
    EmbeddingResponse,
    Usage,
)
from pavedroad.routing.allow import RouteFilter
from pavedroad.routing.breaker import BreakerState
from pavedroad.routing.deployment import Deployment
from pavedroad.routing.gate import Busy, DeploymentGate, Permit
from pavedroad.routing.plan import plan
from pavedroad.routing.switches import KillSwitches

T = TypeVar("T")


@dataclass(slots=True)
class Attempt:
    deployment: str
    outcome: str  # "ok", an error code, "disabled", "circuit_open" or "rate_limited"
    seconds: float = 0.0
    ended: float = field(default_factory=time.perf_counter)  # for trace spans


@dataclass(slots=True)
class RouteTrace:
    attempts: list[Attempt] = field(default_factory=list)

    def header(self) -> str:
        return ", ".join(f"{a.deployment}:{a.outcome}" for a in self.attempts)

    @property
    def served_by(self) -> str | None:
        last = self.attempts[-1] if self.attempts else None
        return last.deployment if last and last.outcome == "ok" else None


class RouteObserver(Protocol):
    def attempt(self, deployment: str, outcome: str, seconds: float) -> None: ...

    def breaker(self, deployment: str, state: BreakerState) -> None: ...


@dataclass(slots=True)
class StreamStart:
    """A stream that produced its first chunk (or ended cleanly with none)."""

    deployment: Deployment
    first: ChatChunk | None
    rest: ChunkStream
    started: float
    permit: Permit | None = None  # the deployment's limits: close it when the stream ends


class Router:
    def __init__(
        self,
        deployments: Mapping[str, Deployment],
        models: Mapping[str, ModelConfig],
        switches: KillSwitches,
        *,
        observer: RouteObserver | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        gate: DeploymentGate | None = None,
    ) -> None:
        self.deployments = dict(deployments)
        self.models = dict(models)
        self.switches = switches
        self._observer = observer
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._gate = gate

    def model(self, name: str) -> ModelConfig:
        model = self.models.get(name)
        if model is None:
            raise ModelNotFound(
                f"model {name!r} does not exist; GET /v1/models lists the models your key may use",
                param="model",
            )
        return model

    def candidates(
        self, model_name: str, *, headers: Mapping[str, str], caller: Caller, trace: RouteTrace,
        allow: RouteFilter | None = None,
    ) -> list[Deployment]:
        model = self.model(model_name)
        if model_name in self.switches.models:
            raise ModelDisabled(f"model {model_name!r} is switched off by an administrator")
        if allow is not None and allow.pinned:
            names = [n for n in allow.pinned if n in self.deployments]
        else:
            names = plan(model.route, headers=headers, caller=caller, rng=self._rng,
                         latency_of=lambda n: self.deployments[n].latency.estimate())
        if allow is not None and not allow.open and names:
            kept = [n for n in names if allow.admits(self.deployments[n])]
            if not kept:
                trace.attempts.extend(Attempt(n, PolicyDenied.code) for n in names)
                raise PolicyDenied(
                    f"the policy allows none of the deployments that serve {model_name!r} "
                    "(approved models and regions only)", param="model")
            names = kept
        if not names:
            # A conditional route with no matching rule and no default: nothing was
            # switched off, so saying "disabled" would send the operator the wrong way.
            raise NoDeploymentAvailable(
                f"no route of model {model_name!r} matches this request "
                "(no conditional rule matched and the route has no default)")
        chosen = [self.deployments[name] for name in names]
        if all(self._disabled(dep) for dep in chosen):
            trace.attempts.extend(Attempt(dep.name, "disabled") for dep in chosen)
            raise ModelDisabled(
                f"every deployment serving {model_name!r} is switched off by an administrator"
            )
        return chosen

    def _disabled(self, dep: Deployment) -> bool:
        return self.switches.blocks(deployment=dep.name, provider=dep.provider_kind)

    def available(self, model_name: str) -> bool:
        """Whether the kill switch leaves anything that could serve the model."""
        model = self.models.get(model_name)
        if model is None or model_name in self.switches.models:
            return False
        route = model.route if isinstance(model.route, str) else model.route.model_dump()
        return any(not self._disabled(self.deployments[name]) for name in route_targets(route))

    async def _run(
        self,
        deployments: list[Deployment],
        trace: RouteTrace,
        call: Callable[[Deployment], Awaitable[T]],
        *,
        request: ChatRequest | EmbeddingRequest,
        settle_later: bool = False,
    ) -> tuple[T, Deployment]:
        """Try each deployment with its retries. With `settle_later`, a success is only
        provisional (a stream that started): `stream_ended` gives the breaker its verdict,
        and the deployment's permit rides on the `StreamStart` for the caller to close."""
        last: PavedroadError | None = None
        for dep in deployments:
            if self._disabled(dep):  # recorded in plan order, so the header reads in order
                trace.attempts.append(Attempt(dep.name, "disabled"))
                continue
            retries = dep.config.retries
            for attempt_no in range(retries.attempts + 1):
                if not dep.breaker.allow():
                    trace.attempts.append(Attempt(dep.name, CircuitOpen.code))
                    last = last or CircuitOpen(f"deployment {dep.name!r} is failing; circuit open")
                    break
                permit = await self._admit(dep, request, trace)
                if isinstance(permit, Busy):
                    last = _busy(last, permit)
                    break
                started = time.perf_counter()
                try:
                    result = await call(dep)
                except asyncio.CancelledError:
                    dep.breaker.release()  # the caller left: no verdict on the deployment
                    _close(permit, None)
                    raise
                except UpstreamError as exc:
                    _close(permit, None)
                    elapsed = time.perf_counter() - started
                    self._record(dep, trace, exc.code, elapsed, failed=exc.retryable)
                    if not exc.retryable:
                        raise
                    last = exc
                    wait = self._backoff(dep, attempt_no, exc)
                    if wait is None or attempt_no == retries.attempts or not exc.retry_same:
                        break
                    await self._sleep(wait)
                    continue
                except BaseException:
                    _close(permit, None)  # anything else is a bug: free the slot, then fail
                    raise
                elapsed = time.perf_counter() - started
                dep.latency.observe(elapsed)
                if settle_later:
                    trace.attempts.append(Attempt(dep.name, "ok", elapsed))
                    if isinstance(result, StreamStart):
                        result.permit = permit
                else:
                    self._record(dep, trace, "ok", elapsed, failed=False)
                    _close(permit, result.usage if isinstance(
                        result, ChatResponse | EmbeddingResponse) else None)
                return result, dep
        if last is None:
            raise NoDeploymentAvailable("no deployment could serve the request")
        raise last

    async def _admit(
        self, dep: Deployment, request: ChatRequest | EmbeddingRequest, trace: RouteTrace
    ) -> Permit | Busy | None:
        """The deployment's own limits; Busy skips it (its breaker gets no verdict)."""
        if self._gate is None:
            return None
        try:
            permit = await self._gate.admit(dep.name, request, holder=request.request_id)
        except BaseException:
            dep.breaker.release()
            raise
        if isinstance(permit, Busy):
            dep.breaker.release()
            trace.attempts.append(Attempt(dep.name, RateLimited.code))
        return permit

    def _record(
        self, dep: Deployment, trace: RouteTrace, outcome: str, seconds: float, *, failed: bool
    ) -> None:
        trace.attempts.append(Attempt(dep.name, outcome, seconds))
        if failed:
            dep.breaker.record_failure()
        else:
            dep.breaker.record_success()
        if self._observer is not None:
            self._observer.attempt(dep.name, outcome, seconds)
            self._observer.breaker(dep.name, dep.breaker.state)

    def _backoff(self, dep: Deployment, attempt_no: int, exc: UpstreamError) -> float | None:
        """Seconds to wait before retrying the same deployment; None to move on now."""
        retries = dep.config.retries
        if exc.retry_after is not None:
            return exc.retry_after if exc.retry_after <= retries.max_retry_after else None
        base = min(retries.backoff_max, retries.backoff_initial * (2.0**attempt_no))
        return base * (0.5 + self._rng.random() / 2)  # jitter: half to full

    async def chat(self, request: ChatRequest, trace: RouteTrace, *,
                   allow: RouteFilter | None = None) -> tuple[ChatResponse, Deployment]:
        deps = self.candidates(request.model, headers=request.headers, caller=request.caller,
                               trace=trace, allow=allow)
        return await self._run(deps, trace, lambda d: d.provider.chat(request, timeouts=d.timeouts),
                               request=request)

    async def embed(
        self, request: EmbeddingRequest, trace: RouteTrace
    ) -> tuple[EmbeddingResponse, Deployment]:
        deps = self.candidates(request.model, headers=request.headers, caller=request.caller,
                               trace=trace)
        return await self._run(deps, trace,
                               lambda d: d.provider.embed(request, timeouts=d.timeouts),
                               request=request)

    async def open_stream(self, request: ChatRequest, trace: RouteTrace, *,
                          allow: RouteFilter | None = None) -> StreamStart:
        """Start a stream; failures before its first chunk fall back like any other error."""
        deps = self.candidates(request.model, headers=request.headers, caller=request.caller,
                               trace=trace, allow=allow)

        async def first_chunk(dep: Deployment) -> StreamStart:
            started = time.perf_counter()
            timeouts = dep.timeouts
            try:
                async with asyncio.timeout(timeouts.first_token):
                    stream = await dep.provider.open_stream(request, timeouts=timeouts)
                    try:
                        first: ChatChunk | None = await anext(stream)
                    except StopAsyncIteration:
                        first = None
            except TimeoutError:
                raise UpstreamTimeout(
                    f"deployment {dep.name!r} sent no first token within {timeouts.first_token}s"
                ) from None
            return StreamStart(dep, first, stream, started)

        start, _ = await self._run(deps, trace, first_chunk, request=request, settle_later=True)
        return start

    def stream_ended(self, dep: Deployment, trace: RouteTrace, outcome: str) -> None:
        """Settle a started stream: `ok`, `client_closed`, or the error code it broke with.

        A break after the first chunk is too late to fall back, but it counts against the
        deployment like any other failure.
        """
        seconds = trace.attempts[-1].seconds if trace.attempts else 0.0
        if outcome == "ok":
            dep.breaker.record_success()
        elif outcome == "client_closed":
            dep.breaker.release()
        else:
            trace.attempts.append(Attempt(dep.name, outcome))
            dep.breaker.record_failure()
        if self._observer is not None:
            self._observer.attempt(dep.name, "ok" if outcome == "client_closed" else outcome,
                                   seconds)
            self._observer.breaker(dep.name, dep.breaker.state)

    def breaker_states(self) -> dict[str, BreakerState]:
        return {name: dep.breaker.state for name, dep in self.deployments.items()}


def _busy(last: PavedroadError | None, busy: Busy) -> PavedroadError:
    """What to fail with when nothing else works: a deployment at its limit is only the
    answer when nothing failed before; then Retry-After is the soonest any frees up."""
    if last is not None and not isinstance(last, RateLimited):
        return last
    wait = busy.retry_after if last is None else min(last.retry_after, busy.retry_after)
    return RateLimited("every deployment that could serve the request is at its rate limit",
                       retry_after=wait)


def _close(permit: Permit | None, usage: Usage | None) -> None:
    if permit is not None:
        permit.close(usage)
