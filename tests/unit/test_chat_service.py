"""ChatService ends every exchange exactly once, also streams nobody consumed."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

from pavedroad.config import load_settings
from pavedroad.core.types import Caller, ChatRequest, Timeouts
from pavedroad.providers.base import Capabilities
from pavedroad.routing.breaker import BreakerState, LocalBreaker
from pavedroad.routing.deployment import Deployment
from pavedroad.routing.router import Router
from pavedroad.routing.switches import KillSwitches
from pavedroad.service.chat import ChatService
from pavedroad.service.pipeline import ChatStream, Exchange
from pavedroad.telemetry.metrics import GatewayMetrics


class StreamingProvider:
    capabilities = Capabilities()

    def __init__(self) -> None:
        self.closed = 0

    async def open_stream(self, request: ChatRequest, *, timeouts: Timeouts) -> Any:
        async def chunks() -> AsyncIterator[dict[str, Any]]:
            try:
                for word in ("a", "b", "c"):
                    yield {"choices": [{"index": 0, "delta": {"content": word}}]}
            finally:
                self.closed += 1

        return chunks()

    async def chat(self, request: Any, *, timeouts: Timeouts) -> Any:
        raise NotImplementedError

    async def embed(self, request: Any, *, timeouts: Timeouts) -> Any:
        raise NotImplementedError


class Recorder:
    def __init__(self, ended: list[Exchange]) -> None:
        self.ended_exchanges = ended

    def answering(self, exchange: Exchange) -> None:
        pass

    def ended(self, exchange: Exchange) -> None:
        self.ended_exchanges.append(exchange)


def service() -> tuple[ChatService, StreamingProvider, Deployment, list[Exchange]]:
    settings = load_settings(env={}, text="""
deployments:
  - {name: d, provider: openai_compatible, model: m, api_base: "http://h/v1",
     breaker: {consecutive_failures: 1, half_open_probes: 1}}
models:
  - {name: m, route: d}
""")
    provider = StreamingProvider()
    dep = Deployment(settings.deployments[0], provider, LocalBreaker(settings.deployments[0].breaker))
    router = Router({"d": dep}, {"m": settings.models[0]}, KillSwitches(), rng=random.Random(0))
    ended: list[Exchange] = []
    chat = ChatService(router, GatewayMetrics(), observers=[Recorder(ended)])
    return chat, provider, dep, ended


def request() -> ChatRequest:
    return ChatRequest(model="m", body={"model": "m", "stream": True, "messages": []},
                       request_id="req_1", caller=Caller(key_id="k", name="k", models=None))


async def test_a_stream_nobody_consumed_is_settled_by_finish_stream() -> None:
    chat, provider, dep, ended = service()
    result, exchange = await chat.run(request(), endpoint="chat")
    assert isinstance(result, ChatStream)
    finalized: list[str] = []
    exchange.on_end(lambda e: finalized.append(e.outcome))
    await chat.finish_stream(result)
    assert exchange.ended and exchange.outcome == "client_closed"
    assert provider.closed == 1  # the upstream stream was closed
    assert finalized == ["client_closed"] and ended == [exchange]
    assert dep.breaker.state is BreakerState.CLOSED  # leaving is not the upstream's fault
    await chat.finish_stream(result)  # idempotent
    assert provider.closed == 1 and len(ended) == 1


async def test_a_consumed_stream_ends_once_and_finish_stream_adds_nothing() -> None:
    chat, provider, dep, ended = service()
    result, exchange = await chat.run(request(), endpoint="chat")
    assert isinstance(result, ChatStream)
    chunks = [item async for item in result.items]
    assert len(chunks) == 3
    assert exchange.ended and exchange.outcome == "ok" and ended == [exchange]
    await chat.finish_stream(result)
    assert len(ended) == 1 and provider.closed == 1
    assert dep.breaker.state is BreakerState.CLOSED
