"""The cache stage in isolation: a fake rest-of-pipeline, an in-process store."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest

from pavedroad.cache import MemoryCacheStore, ResponseCache
from pavedroad.cache.redis_store import RedisCacheStore
from pavedroad.cache.replay import replay_chunks
from pavedroad.config.cache import CacheConfig
from pavedroad.config.models import ModelConfig
from pavedroad.core.errors import UpstreamStreamBroken
from pavedroad.core.types import Caller, ChatRequest, ChatResponse, Subject, Usage
from pavedroad.routing.router import Router
from pavedroad.routing.switches import KillSwitches
from pavedroad.service.pipeline import ChatResult, ChatStream, Exchange, StreamFailure, StreamItem
from pavedroad.store.redis import RedisConnection
from tests.support.services import free_port

ANSWER = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "up",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello there"},
                       "logprobs": None, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
CALLER = Caller(key_id="key_1", name="k", models=None, app=Subject("app_1", "a"),
                tenant=Subject("ten_1", "t"))


class Upstream:
    """Stands for the rest of the pipeline; counts calls; can break streams at the end."""

    def __init__(self, *, break_at_end: bool = False) -> None:
        self.calls = 0
        self.break_at_end = break_at_end

    async def __call__(self, exchange: Exchange) -> ChatResult:
        self.calls += 1
        if not exchange.request.stream:
            exchange.usage = Usage(3, 2)
            return ChatResponse(dict(ANSWER))
        return ChatStream(exchange, self._items(exchange))

    async def _items(self, exchange: Exchange) -> AsyncGenerator[StreamItem, None]:
        for chunk in replay_chunks(ANSWER, include_usage=False):
            yield chunk
        exchange.usage = Usage(3, 2)
        if self.break_at_end:
            exchange.outcome = "upstream_stream_broken"
            yield StreamFailure(UpstreamStreamBroken("no [DONE]"))


def cache(store: MemoryCacheStore) -> ResponseCache:
    router = Router({}, {"gpt": ModelConfig(name="gpt", route="d")}, KillSwitches())
    return ResponseCache(CacheConfig(enabled=True), store=store, router=router,
                         app_settings=lambda app_id: None)


def exchange(*, stream: bool = False, **body: Any) -> Exchange:
    data = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}], **body}
    if stream:
        data["stream"] = True
    return Exchange(ChatRequest("gpt", data, "req_1", CALLER), "chat")


async def drain_stream(result: ChatResult) -> list[StreamItem]:
    assert isinstance(result, ChatStream)
    return [item async for item in result.items]


async def test_a_stream_that_fails_after_its_last_chunk_is_not_stored() -> None:
    store = MemoryCacheStore(max_bytes=1 << 20)
    stage, upstream = cache(store), Upstream(break_at_end=True)
    items = await drain_stream(await stage(exchange(stream=True), upstream))
    assert isinstance(items[-1], StreamFailure)
    await stage.drain()
    assert len(store) == 0


async def test_a_clean_stream_is_stored_and_a_hit_is_marked_and_free() -> None:
    store = MemoryCacheStore(max_bytes=1 << 20)
    stage, upstream = cache(store), Upstream()
    live = exchange(stream=True)
    await drain_stream(await stage(live, upstream))
    await stage.drain()
    assert len(store) == 1 and live.response_headers["x-pavedroad-cache"] == "miss"
    hit = exchange()
    result = await stage(hit, upstream)
    assert upstream.calls == 1
    assert isinstance(result, ChatResponse) and result.body["choices"] == ANSWER["choices"]
    assert hit.cache_hit and hit.usage is None and hit.deployment is None
    assert hit.response_headers["x-pavedroad-cache"] == "hit"


async def test_an_abandoned_stream_is_not_stored() -> None:
    store = MemoryCacheStore(max_bytes=1 << 20)
    stage = cache(store)
    result = await stage(exchange(stream=True), Upstream())
    assert isinstance(result, ChatStream)
    await anext(result.items)
    await result.items.aclose()  # the caller hung up
    await stage.drain()
    assert len(store) == 0


@pytest.mark.parametrize("headers", [{"cache-control": "no-store"},
                                     {"x-pavedroad-cache-ttl": "0"}])
async def test_requests_that_forbid_writing_leave_nothing(headers: dict[str, str]) -> None:
    store = MemoryCacheStore(max_bytes=1 << 20)
    stage = cache(store)
    ex = exchange()
    ex.request.headers = headers
    await stage(ex, Upstream())
    await stage.drain()
    assert len(store) == 0


async def test_an_unreachable_shared_store_is_a_miss_and_the_request_is_served() -> None:
    connection = RedisConnection(f"redis://127.0.0.1:{free_port()}/0", max_connections=2,
                                 key_prefix="t:")
    try:
        stage = cache(RedisCacheStore(connection, max_entry_bytes=1 << 20))  # type: ignore[arg-type]
        upstream = Upstream()
        for _ in range(2):
            ask = exchange()
            result = await stage(ask, upstream)
            assert isinstance(result, ChatResponse)
            assert ask.response_headers["x-pavedroad-cache"] == "miss"
            await stage.drain()
        assert upstream.calls == 2
    finally:
        await connection.aclose()
