"""The CounterStore contract, in process and in Redis: token buckets at their edges, gauges,
all-or-nothing; then what only the shared store has (the server's clock, leases)."""

from __future__ import annotations

import asyncio
import time

import pytest

from pavedroad.core.errors import BackendUnavailable
from pavedroad.limits.counter import GAUGE_RETRY_SECONDS, Claim
from pavedroad.limits.redis_counter import RedisCounterStore
from pavedroad.store.redis import RedisConnection
from tests.support.backends import LEASE_SECONDS, Backend
from tests.support.services import free_port


def rpm(key: str, limit: int) -> Claim:
    return Claim(key, limit, 1, 60.0)


def gauge(key: str, limit: int) -> Claim:
    return Claim(key, limit, 1, None)


async def test_bucket_admits_its_limit_then_refills_at_limit_per_window(backend: Backend) -> None:
    store = backend.counters()
    claim = rpm("k", 3)
    remaining = [(await store.take([claim], holder="r")).levels[0].remaining for _ in range(3)]
    assert remaining == [2, 1, 0]
    refused = await store.take([claim], holder="r")
    assert refused.refused == 0 and not refused.admitted
    assert refused.retry_after == pytest.approx(20.0)  # 60 s / 3 per token
    await backend.advance_to(1000.0 + 19.99)
    assert not (await store.take([claim], holder="r")).admitted  # just before the edge
    await backend.advance_to(1000.0 + 20.0)
    assert (await store.take([claim], holder="r")).admitted  # exactly at it
    assert not (await store.take([claim], holder="r")).admitted


async def test_idle_bucket_never_holds_more_than_its_limit(backend: Backend) -> None:
    store = backend.counters()
    claim = rpm("k", 2)
    await store.take([claim], holder="r")
    await backend.advance(3600)
    results = [(await store.take([claim], holder="r")).admitted for _ in range(3)]
    assert results == [True, True, False]


async def test_reset_is_time_until_full(backend: Backend) -> None:
    store = backend.counters()
    claim = rpm("k", 60)
    for _ in range(6):
        admission = await store.take([claim], holder="r")
    assert admission.levels[0].remaining == 54
    assert admission.levels[0].reset == pytest.approx(6.0)


async def test_admission_is_all_or_nothing(backend: Backend) -> None:
    store = backend.counters()
    wide, narrow, slots = rpm("wide", 5), rpm("narrow", 1), gauge("slots", 5)
    assert (await store.take([wide, narrow, slots], holder="a")).admitted
    refused = await store.take([wide, narrow, slots], holder="b")
    assert refused.refused == 1
    # Nothing was taken from the claims that had room.
    alone = await store.take([wide, slots], holder="c")
    assert alone.levels[0].remaining == 3 and alone.levels[1].remaining == 3


async def test_refusal_waits_for_every_refused_claim(backend: Backend) -> None:
    store = backend.counters()
    fast, slow = rpm("fast", 60), rpm("slow", 2)
    await store.take([fast, slow], holder="a")
    await store.take([slow], holder="a")
    for _ in range(59):
        await store.take([fast], holder="a")
    refused = await store.take([fast, slow], holder="b")
    assert refused.refused == 0  # the first refusing claim is named
    assert refused.retry_after == pytest.approx(30.0)  # but the wait covers the slowest


async def test_gauge_counts_in_use_until_given_back(backend: Backend) -> None:
    store = backend.counters()
    slot = gauge("c", 2)
    assert (await store.take([slot], holder="a")).admitted
    assert (await store.take([slot], holder="b")).admitted
    refused = await store.take([slot], holder="c")
    assert refused.refused == 0 and refused.retry_after == GAUGE_RETRY_SECONDS
    await store.give([slot], holder="a")
    admitted = await store.take([slot], holder="c")
    assert admitted.admitted and admitted.levels[0].remaining == 0
    for holder in "bc":
        await store.give([slot], holder=holder)
    await store.give([slot], holder="extra")  # never below zero
    assert (await store.take([slot], holder="d")).levels[0].remaining == 1


async def test_tokens_larger_than_the_limit_need_a_full_bucket_and_leave_debt(backend: Backend) -> None:
    store = backend.counters()
    big = Claim("t", 100, 250, 60.0)
    assert (await store.take([big], holder="a")).admitted  # full bucket: admitted
    small = Claim("t", 100, 1, 60.0)
    refused = await store.take([small], holder="b")
    assert not refused.admitted
    # 150 tokens of debt plus the 1 needed, refilled at 100 per minute.
    assert refused.retry_after == pytest.approx(151 * 0.6)


async def test_give_refunds_and_charges_tokens(backend: Backend) -> None:
    store = backend.counters()
    estimate = Claim("t", 1000, 400, 60.0)
    assert (await store.take([estimate], holder="a")).levels[0].remaining == 600
    await store.give([Claim("t", 1000, -300, 60.0)], holder="a")  # used 700, not 400
    assert (await store.take([Claim("t", 1000, 1, 60.0)], holder="b")).levels[0].remaining == 299
    await store.give([Claim("t", 1000, 5000, 60.0)], holder="b")  # refunds stop at the limit
    assert (await store.take([Claim("t", 1000, 1, 60.0)], holder="c")).levels[0].remaining == 999


async def test_lowered_limit_applies_at_once(backend: Backend) -> None:
    store = backend.counters()
    await store.take([rpm("k", 10)], holder="a")
    admission = await store.take([rpm("k", 2)], holder="b")
    assert admission.levels[0].remaining == 1


async def test_concurrent_takes_never_exceed_a_gauge(backend: Backend) -> None:
    store = backend.counters()
    slot, minute = gauge("c", 10), rpm("r", 1000)

    async def one(i: int) -> bool:
        await asyncio.sleep(0)
        return (await store.take([minute, slot], holder=str(i))).admitted

    results = await asyncio.gather(*(one(i) for i in range(200)))
    assert sum(results) == 10
    # The refused 190 took nothing from the rate bucket either.
    assert (await store.take([minute], holder="x")).levels[0].remaining == 1000 - 10 - 1


async def test_one_holder_taking_a_gauge_twice_holds_two_units(backend: Backend) -> None:
    # A retry on the same deployment: the second attempt's take may reach the store before
    # the first attempt's give. Each give returns one unit, never both.
    store = backend.counters()
    slot = gauge("c", 3)
    assert (await store.take([slot], holder="a")).levels[0].remaining == 2
    assert (await store.take([slot], holder="a")).levels[0].remaining == 1
    await store.give([slot], holder="a")
    assert (await store.take([slot], holder="b")).levels[0].remaining == 1
    await store.give([slot], holder="a")
    assert (await store.take([slot], holder="c")).levels[0].remaining == 1


# --- only the shared store ------------------------------------------------------------


async def test_buckets_use_the_redis_servers_clock(redis_backend: Backend) -> None:
    assert redis_backend.connection is not None
    store = RedisCounterStore(redis_backend.connection)  # no clock given: Redis's TIME
    claim = rpm("k", 2)
    assert [(await store.take([claim], holder="r")).admitted for _ in range(3)] == \
        [True, True, False]
    refused = await store.take([claim], holder="r")
    assert 29.0 < refused.retry_after <= 30.0  # one token per 30 s, a moment already passed
    assert refused.levels[0].reset == pytest.approx(60.0, abs=1.0)


async def test_slots_of_a_replica_that_died_lapse_with_their_lease(redis_backend: Backend) -> None:
    slot = gauge("c", 1)
    dead = redis_backend.counters()  # took a slot, then its process died: no renewals
    assert (await dead.take([slot], holder="a")).admitted
    alive = redis_backend.counters()
    assert not (await alive.take([slot], holder="b")).admitted
    await redis_backend.advance(LEASE_SECONDS + 0.001)
    assert (await alive.take([slot], holder="b")).admitted


async def test_a_live_replica_renews_its_leases(redis_backend: Backend) -> None:
    slot = gauge("c", 1)
    store = redis_backend.counters()
    assert isinstance(store, RedisCounterStore)
    assert (await store.take([slot], holder="a")).admitted
    for _ in range(5):  # far longer than one lease, renewed every third of it
        await redis_backend.advance(LEASE_SECONDS / 3)
        assert await store.leases.renew() == 1
    assert not (await store.take([slot], holder="b")).admitted
    await store.give([slot], holder="a")
    assert len(store.leases) == 0
    assert (await store.take([slot], holder="b")).admitted


async def test_an_unreachable_redis_raises_backend_unavailable_and_fails_fast() -> None:
    connection = RedisConnection(f"redis://127.0.0.1:{free_port()}/0", max_connections=4,
                                 key_prefix="t:")
    store = RedisCounterStore(connection)
    try:
        with pytest.raises(BackendUnavailable, match="redis"):
            await store.take([rpm("k", 1)], holder="a")
        started = time.perf_counter()
        with pytest.raises(BackendUnavailable, match="not retried yet"):
            await store.give([rpm("k", 1)], holder="a")
        assert time.perf_counter() - started < 0.01
        assert not await connection.ping()
    finally:
        await connection.aclose()
