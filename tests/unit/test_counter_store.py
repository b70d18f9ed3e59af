"""The in-process CounterStore: token buckets at their edges, gauges, all-or-nothing."""

from __future__ import annotations

import asyncio

import pytest

from pavedroad.limits.counter import GAUGE_RETRY_SECONDS, Claim, LocalCounterStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rpm(key: str, limit: int) -> Claim:
    return Claim(key, limit, 1, 60.0)


def gauge(key: str, limit: int) -> Claim:
    return Claim(key, limit, 1, None)


async def test_bucket_admits_its_limit_then_refills_at_limit_per_window() -> None:
    clock = Clock()
    store = LocalCounterStore(clock=clock)
    claim = rpm("k", 3)
    remaining = [(await store.take([claim], holder="r")).levels[0].remaining for _ in range(3)]
    assert remaining == [2, 1, 0]
    refused = await store.take([claim], holder="r")
    assert refused.refused == 0 and not refused.admitted
    assert refused.retry_after == pytest.approx(20.0)  # 60 s / 3 per token
    clock.now = 1000.0 + 19.99
    assert not (await store.take([claim], holder="r")).admitted  # just before the edge
    clock.now = 1000.0 + 20.0
    assert (await store.take([claim], holder="r")).admitted  # exactly at it
    assert not (await store.take([claim], holder="r")).admitted


async def test_idle_bucket_never_holds_more_than_its_limit() -> None:
    clock = Clock()
    store = LocalCounterStore(clock=clock)
    claim = rpm("k", 2)
    await store.take([claim], holder="r")
    clock.now += 3600
    results = [(await store.take([claim], holder="r")).admitted for _ in range(3)]
    assert results == [True, True, False]


async def test_reset_is_time_until_full() -> None:
    clock = Clock()
    store = LocalCounterStore(clock=clock)
    claim = rpm("k", 60)
    for _ in range(6):
        admission = await store.take([claim], holder="r")
    assert admission.levels[0].remaining == 54
    assert admission.levels[0].reset == pytest.approx(6.0)


async def test_admission_is_all_or_nothing() -> None:
    clock = Clock()
    store = LocalCounterStore(clock=clock)
    wide, narrow, slots = rpm("wide", 5), rpm("narrow", 1), gauge("slots", 5)
    assert (await store.take([wide, narrow, slots], holder="a")).admitted
    refused = await store.take([wide, narrow, slots], holder="b")
    assert refused.refused == 1
    # Nothing was taken from the claims that had room.
    alone = await store.take([wide, slots], holder="c")
    assert alone.levels[0].remaining == 3 and alone.levels[1].remaining == 3


async def test_refusal_waits_for_every_refused_claim() -> None:
    clock = Clock()
    store = LocalCounterStore(clock=clock)
    fast, slow = rpm("fast", 60), rpm("slow", 2)
    await store.take([fast, slow], holder="a")
    await store.take([slow], holder="a")
    for _ in range(59):
        await store.take([fast], holder="a")
    refused = await store.take([fast, slow], holder="b")
    assert refused.refused == 0  # the first refusing claim is named
    assert refused.retry_after == pytest.approx(30.0)  # but the wait covers the slowest


async def test_gauge_counts_in_use_until_given_back() -> None:
    store = LocalCounterStore(clock=Clock())
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


async def test_tokens_larger_than_the_limit_need_a_full_bucket_and_leave_debt() -> None:
    clock = Clock()
    store = LocalCounterStore(clock=clock)
    big = Claim("t", 100, 250, 60.0)
    assert (await store.take([big], holder="a")).admitted  # full bucket: admitted
    small = Claim("t", 100, 1, 60.0)
    refused = await store.take([small], holder="b")
    assert not refused.admitted
    # 150 tokens of debt plus the 1 needed, refilled at 100 per minute.
    assert refused.retry_after == pytest.approx(151 * 0.6)


async def test_give_refunds_and_charges_tokens() -> None:
    clock = Clock()
    store = LocalCounterStore(clock=clock)
    estimate = Claim("t", 1000, 400, 60.0)
    assert (await store.take([estimate], holder="a")).levels[0].remaining == 600
    await store.give([Claim("t", 1000, -300, 60.0)], holder="a")  # used 700, not 400
    assert (await store.take([Claim("t", 1000, 1, 60.0)], holder="b")).levels[0].remaining == 299
    await store.give([Claim("t", 1000, 5000, 60.0)], holder="b")  # refunds stop at the limit
    assert (await store.take([Claim("t", 1000, 1, 60.0)], holder="c")).levels[0].remaining == 999


async def test_lowered_limit_applies_at_once() -> None:
    store = LocalCounterStore(clock=Clock())
    await store.take([rpm("k", 10)], holder="a")
    admission = await store.take([rpm("k", 2)], holder="b")
    assert admission.levels[0].remaining == 1


async def test_concurrent_takes_never_exceed_a_gauge() -> None:
    store = LocalCounterStore(clock=Clock())
    slot, minute = gauge("c", 10), rpm("r", 1000)

    async def one(i: int) -> bool:
        await asyncio.sleep(0)
        return (await store.take([minute, slot], holder=str(i))).admitted

    results = await asyncio.gather(*(one(i) for i in range(200)))
    assert sum(results) == 10
    # The refused 190 took nothing from the rate bucket either.
    assert (await store.take([minute], holder="x")).levels[0].remaining == 1000 - 10 - 1
