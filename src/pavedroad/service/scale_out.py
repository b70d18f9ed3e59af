"""The scale-out backend: with `redis.url` set, rate-limit counters, budget accounts and the
response cache live in Redis, shared by every replica; records stay in the database
(`store.url`, PostgreSQL for several replicas). See docs/adr/0013-redis-scale-out.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from pavedroad.budgets.redis_store import RedisBudgetStore
from pavedroad.cache.redis_store import RedisCacheStore
from pavedroad.config.models import Settings
from pavedroad.core.errors import BackendUnavailable
from pavedroad.limits.redis_counter import RedisCounterStore
from pavedroad.store.redis import Leases, RedisConnection

log = logging.getLogger("pavedroad.redis")

# A replica that dies stops renewing its leases: its concurrency slots and budget
# reservations return within this long. A live one renews them three times as often.
LEASE_SECONDS = 30.0
RENEW_SECONDS = LEASE_SECONDS / 3


@dataclass(slots=True)
class SharedState:
    connection: RedisConnection
    leases: Leases
    counters: RedisCounterStore
    budgets: RedisBudgetStore
    cache: RedisCacheStore
    _renewer: asyncio.Task[None] | None = field(default=None)

    async def start(self) -> None:
        self._renewer = asyncio.create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                await self.leases.renew()
            except BackendUnavailable:
                pass  # logged by the connection; the next tick tries again
            except Exception:
                log.exception("renewing leases failed")

    async def ping(self) -> bool:
        return await self.connection.ping()

    async def aclose(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        await self.connection.aclose()


def connect_shared_state(settings: Settings) -> SharedState:
    """The Redis stores over one bounded pool. Nothing connects until the first call."""
    config = settings.redis
    if config.url is None:
        raise ValueError("redis.url is not set")
    connection = RedisConnection(config.url, max_connections=config.max_connections,
                                 key_prefix=config.key_prefix)
    leases = Leases(connection, seconds=LEASE_SECONDS)
    return SharedState(
        connection, leases,
        counters=RedisCounterStore(connection, leases=leases),
        budgets=RedisBudgetStore(connection, leases=leases),
        cache=RedisCacheStore(connection, max_entry_bytes=settings.cache.max_entry_bytes),
    )
