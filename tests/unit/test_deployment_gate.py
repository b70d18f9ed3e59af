"""Deployment limits as routing sees them: skipped like an open breaker, then fallback."""

from __future__ import annotations

import random
from collections.abc import Coroutine
from typing import Any

import pytest

from pavedroad.config import load_settings
from pavedroad.core.errors import RateLimited, UpstreamOverloaded
from pavedroad.core.types import ChatRequest, Limits
from pavedroad.limits.counter import LocalCounterStore
from pavedroad.limits.deployment import DeploymentLimiter
from pavedroad.routing.breaker import BreakerState, LocalBreaker
from pavedroad.routing.deployment import Deployment
from pavedroad.routing.router import Router, RouteTrace
from pavedroad.routing.switches import KillSwitches
from tests.unit.test_router import CALLER, Scripted


class Settle:
    """Collects what permits give back, to run when the test says so."""

    def __init__(self) -> None:
        self.pending: list[Coroutine[Any, Any, None]] = []

    def __call__(self, work: Coroutine[Any, Any, None]) -> None:
        self.pending.append(work)

    async def run(self) -> None:
        while self.pending:
            await self.pending.pop(0)


def build(limits: dict[str, Limits], scripts: dict[str, list[Any]], *,
          breaker: str = "") -> tuple[Router, dict[str, Scripted], Settle]:
    deployments = "\n".join(
        f"  - {{name: {n}, provider: openai_compatible, model: m, api_base: 'http://h/v1',"
        f" retries: {{attempts: 0}}{breaker}}}" for n in scripts)
    names = ", ".join(scripts)
    text = f"deployments:\n{deployments}\nmodels:\n  - name: x\n    route: {{fallback: [{names}]}}\n"
    settings = load_settings(text=text, env={})
    providers = {n: Scripted(n, s) for n, s in scripts.items()}
    deps = {d.name: Deployment(d, providers[d.name], LocalBreaker(d.breaker))
            for d in settings.deployments}
    settle = Settle()
    gate = DeploymentLimiter(LocalCounterStore(), limits, spawn=settle)
    router = Router(deps, {m.name: m for m in settings.models}, KillSwitches(),
                    rng=random.Random(1), gate=gate)
    return router, providers, settle


def request(*, stream: bool = False) -> ChatRequest:
    return ChatRequest(model="x", body={"model": "x", "stream": stream, "messages": []},
                       request_id="req_1", caller=CALLER)


async def test_a_deployment_at_its_limit_is_skipped_and_routing_falls_back() -> None:
    router, providers, _ = build({"a": Limits(rpm=1)}, {"a": [], "b": []})
    first = RouteTrace()
    assert (await router.chat(request(), first))[1].name == "a"
    second = RouteTrace()
    assert (await router.chat(request(), second))[1].name == "b"
    assert second.header() == "a:rate_limited, b:ok"
    assert providers["a"].calls == 1


async def test_all_busy_is_a_429_with_the_soonest_retry() -> None:
    router, _, _ = build({"a": Limits(rpm=1), "b": Limits(rpm=2)}, {"a": [], "b": []})
    for _ in range(3):
        await router.chat(request(), RouteTrace())
    trace = RouteTrace()
    with pytest.raises(RateLimited) as caught:
        await router.chat(request(), trace)
    assert trace.header() == "a:rate_limited, b:rate_limited"
    assert caught.value.retry_after == pytest.approx(30.0, abs=0.5)  # b refills first
    assert caught.value.headers()["retry-after"] == "30"


async def test_a_busy_deployment_gets_no_verdict_from_its_breaker() -> None:
    router, _, settle = build({"a": Limits(concurrent=1)}, {"a": [], "b": []},
                              breaker=", breaker: {consecutive_failures: 1}")
    start = await router.open_stream(request(stream=True), RouteTrace())  # holds a's slot
    assert start.deployment.name == "a" and start.permit is not None
    for _ in range(3):
        assert (await router.chat(request(), RouteTrace()))[1].name == "b"
    assert router.deployments["a"].breaker.state is BreakerState.CLOSED
    start.permit.close(None)  # the stream ended: the slot is free again
    await settle.run()
    assert (await router.chat(request(), RouteTrace()))[1].name == "a"
    await settle.run()


async def test_a_failed_attempt_frees_its_slot() -> None:
    router, providers, settle = build({"a": Limits(concurrent=1)},
                                      {"a": [UpstreamOverloaded("x")], "b": []})
    trace = RouteTrace()
    assert (await router.chat(request(), trace))[1].name == "b"
    assert trace.header() == "a:upstream_overloaded, b:ok"
    await settle.run()
    assert (await router.chat(request(), RouteTrace()))[1].name == "a"
    assert providers["a"].calls == 2
    await settle.run()
