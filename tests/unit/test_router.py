"""The router's retry, backoff, fallback and breaker logic, with scripted providers."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pavedroad.config import load_settings
from pavedroad.core.errors import (
    ModelDisabled,
    ModelNotFound,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamStreamBroken,
    UpstreamTimeout,
)
from pavedroad.core.types import Caller, ChatRequest, ChatResponse, Timeouts
from pavedroad.providers.base import Capabilities
from pavedroad.routing.breaker import LocalBreaker
from pavedroad.routing.deployment import Deployment
from pavedroad.routing.router import Router, RouteTrace
from pavedroad.routing.switches import KillSwitches

CALLER = Caller(key_id="k", name="t", models=None)


class Scripted:
    """A provider that plays back a script of outcomes (an error, or 'ok')."""

    capabilities = Capabilities()

    def __init__(self, name: str, script: list[Any]) -> None:
        self.name = name
        self.script = list(script)
        self.calls = 0

    def _next(self) -> Any:
        self.calls += 1
        return self.script.pop(0) if self.script else "ok"

    async def chat(self, request: ChatRequest, *, timeouts: Timeouts) -> ChatResponse:
        outcome = self._next()
        if isinstance(outcome, Exception):
            raise outcome
        return ChatResponse({"choices": [], "served_by": self.name})

    async def open_stream(self, request: ChatRequest, *, timeouts: Timeouts) -> Any:
        outcome = self._next()
        if isinstance(outcome, Exception):
            raise outcome

        async def chunks() -> AsyncIterator[dict[str, Any]]:
            yield {"choices": [{"delta": {"content": self.name}}]}

        return chunks()

    async def embed(self, request: Any, *, timeouts: Timeouts) -> Any:
        raise NotImplementedError


def build(route: str, scripts: dict[str, list[Any]], *, extra: str = "",
          switches: KillSwitches | None = None) -> tuple[Router, dict[str, Scripted], list[float]]:
    deployments = "\n".join(
        f"  - {{name: {n}, provider: openai_compatible, model: m, api_base: 'http://h/v1',"
        f" retries: {{attempts: 1, backoff_initial: 0.5, max_retry_after: 2}}{extra}}}"
        for n in scripts)
    text = f"deployments:\n{deployments}\nmodels:\n  - name: x\n    route: {route}\n"
    settings = load_settings(text=text, env={})
    providers = {n: Scripted(n, s) for n, s in scripts.items()}
    deps = {d.name: Deployment(d, providers[d.name], LocalBreaker(d.breaker))
            for d in settings.deployments}
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    router = Router(deps, {m.name: m for m in settings.models}, switches or KillSwitches(),
                    rng=random.Random(1), sleep=sleep)
    return router, providers, slept


def request(model: str = "x", *, stream: bool = False) -> ChatRequest:
    return ChatRequest(model=model, body={"model": model, "stream": stream, "messages": []},
                       request_id="req_1", caller=CALLER)


async def test_retries_then_falls_back_and_records_the_path() -> None:
    router, _, slept = build(
        "{fallback: [a, b]}", {"a": [UpstreamOverloaded("x"), UpstreamOverloaded("x")], "b": []})
    trace = RouteTrace()
    response, dep = await router.chat(request(), trace)
    assert dep.name == "b"
    assert response.body["served_by"] == "b"
    assert trace.header() == "a:upstream_overloaded, a:upstream_overloaded, b:ok"
    assert len(slept) == 1
    assert 0.25 <= slept[0] <= 0.5  # jittered backoff between half and full


async def test_retry_after_is_honoured_and_long_ones_move_on() -> None:
    router, _, slept = build("{fallback: [a, b]}",
                             {"a": [UpstreamRateLimited("x", retry_after=1.5)], "b": []})
    _, dep = await router.chat(request(), RouteTrace())
    assert dep.name == "a" and slept == [1.5]

    router, providers, slept = build("{fallback: [a, b]}",
                                     {"a": [UpstreamRateLimited("x", retry_after=30)], "b": []})
    trace = RouteTrace()
    _, dep = await router.chat(request(), trace)
    assert dep.name == "b" and slept == [] and providers["a"].calls == 1


async def test_non_retryable_error_stops_at_once() -> None:
    router, providers, _ = build("{fallback: [a, b]}", {"a": [UpstreamRejected("bad")], "b": []})
    with pytest.raises(UpstreamRejected):
        await router.chat(request(), RouteTrace())
    assert providers["b"].calls == 0


async def test_last_error_surfaces_when_everything_fails() -> None:
    router, _, _ = build("{fallback: [a, b]}", {
        "a": [UpstreamTimeout("t")] * 2, "b": [UpstreamRateLimited("r", retry_after=9)] * 2})
    with pytest.raises(UpstreamRateLimited):
        await router.chat(request(), RouteTrace())


async def test_open_breaker_is_skipped_without_a_call() -> None:
    router, providers, _ = build(
        "{fallback: [a, b]}", {"a": [UpstreamError("boom")] * 10, "b": []},
        extra=", breaker: {consecutive_failures: 2, cooldown_seconds: 60}")
    await router.chat(request(), RouteTrace())  # two failures open a's breaker
    calls = providers["a"].calls
    trace = RouteTrace()
    await router.chat(request(), trace)
    assert providers["a"].calls == calls
    assert trace.header() == "a:circuit_open, b:ok"


async def test_kill_switch_routes_around_and_reports_model_disabled() -> None:
    switches = KillSwitches()
    router, providers, _ = build("{fallback: [a, b]}", {"a": [], "b": []}, switches=switches)
    switches.replace({("deployment", "a")})
    trace = RouteTrace()
    _, dep = await router.chat(request(), trace)
    assert dep.name == "b" and trace.header() == "a:disabled, b:ok"
    switches.replace({("provider", "openai_compatible")})
    with pytest.raises(ModelDisabled):
        await router.chat(request(), RouteTrace())
    switches.replace({("model", "x")})
    with pytest.raises(ModelDisabled):
        await router.chat(request(), RouteTrace())
    assert providers["a"].calls == 0


async def test_unknown_model() -> None:
    router, _, _ = build("a", {"a": []})
    with pytest.raises(ModelNotFound) as info:
        await router.chat(request("nope"), RouteTrace())
    assert info.value.param == "model"


async def test_stream_failure_before_first_chunk_falls_back() -> None:
    router, _, _ = build("{fallback: [a, b]}",
                         {"a": [UpstreamStreamBroken("x"), UpstreamStreamBroken("x")], "b": []})
    trace = RouteTrace()
    start = await router.open_stream(request(stream=True), trace)
    assert start.deployment.name == "b"
    assert start.first == {"choices": [{"delta": {"content": "b"}}]}
    assert trace.served_by == "b"
