"""The shared-state stores under test: in-process and Redis, behind one harness, so the same
contract tests run against both (docs/adr/0013-redis-scale-out.md).

Time is a fake clock both kinds of store read. Redis also expires keys by its own clock,
so moving time forward here also shortens every key's TTL under the test's prefix by as
much (and drops the keys whose TTL runs out): the server ages exactly as the clock does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pavedroad.budgets.redis_store import RedisBudgetStore
from pavedroad.budgets.store import BudgetStore, LocalBudgetStore
from pavedroad.cache.redis_store import RedisCacheStore
from pavedroad.cache.store import CacheStore, MemoryCacheStore
from pavedroad.limits.counter import CounterStore, LocalCounterStore
from pavedroad.limits.redis_counter import RedisCounterStore
from pavedroad.store.redis import RedisConnection

LEASE_SECONDS = 30.0


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    name: str  # "memory" or "redis"
    clock: Clock = field(default_factory=Clock)
    connection: RedisConnection | None = None

    @property
    def is_redis(self) -> bool:
        return self.connection is not None

    async def advance(self, seconds: float) -> None:
        await self.advance_to(self.clock.now + seconds)

    async def advance_to(self, now: float) -> None:
        seconds, self.clock.now = now - self.clock.now, now
        if self.connection is None:
            return
        client = self.connection.client
        shift = round(seconds * 1000)
        async for key in client.scan_iter(match=f"{self.connection.prefix}*", count=1000):
            ttl = await client.pttl(key)
            if ttl <= 0:
                continue
            if ttl <= shift:
                await client.delete(key)
            else:
                await client.pexpire(key, ttl - shift)

    def counters(self) -> CounterStore:
        if self.connection is None:
            return LocalCounterStore(clock=self.clock)
        return RedisCounterStore(self.connection, lease_seconds=LEASE_SECONDS, clock=self.clock)

    async def budgets(self) -> BudgetStore:
        """A store ready for reservations (a shared one once its accounts are seeded)."""
        if self.connection is None:
            return LocalBudgetStore(clock=self.clock)
        store = RedisBudgetStore(self.connection, lease_seconds=LEASE_SECONDS, clock=self.clock)
        await store.mark_seeded()
        return store

    def cache(self, *, max_bytes: int, max_entry_bytes: int | None = None) -> CacheStore:
        if self.connection is None:
            return MemoryCacheStore(max_bytes=max_bytes, max_entry_bytes=max_entry_bytes,
                                    clock=self.clock)
        return RedisCacheStore(self.connection, max_entry_bytes=max_entry_bytes or max_bytes)


def redis_connection(url: str, *, max_connections: int = 64) -> RedisConnection:
    """A connection whose keys nobody else uses: a fresh prefix per test."""
    return RedisConnection(url, max_connections=max_connections,
                           key_prefix=f"t{uuid.uuid4().hex[:12]}:")
