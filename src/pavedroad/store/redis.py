"""The Redis connection the scale-out stores share: one bounded, blocking pool per process,
and the one place where Redis's errors become ours (`BackendUnavailable`).

The pool blocks a call until a connection is free instead of opening more: redis-py's
default pool raises once thousands of requests are in flight at once. Calls are never
retried by the client: our scripts are not idempotent (a `take` retried after a timeout
could be counted twice), so a failure goes to the caller's fail mode instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pavedroad.core.errors import BackendUnavailable

log = logging.getLogger("pavedroad.redis")

CONNECT_SECONDS = 1.0  # a Redis that does not accept within a second is down for us
CALL_SECONDS = 2.0  # every command we send takes well under a millisecond of server time
POOL_WAIT_SECONDS = 5.0  # how long a call waits for a free connection of the pool
DOWN_SECONDS = 1.0  # after a connection failure, calls fail at once for this long
HASH_TAG = "{pr}"  # counters and budgets: one Redis Cluster slot, so a script spans them


class RedisConnection:
    """A client over a bounded blocking pool, the key prefix, and a short memory of failure:
    for `DOWN_SECONDS` after a connection failure, calls fail in microseconds instead of each
    waiting for a connect timeout; then they try Redis again."""

    def __init__(
        self, url: str, *, max_connections: int, key_prefix: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool: BlockingConnectionPool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=POOL_WAIT_SECONDS,
            socket_connect_timeout=CONNECT_SECONDS, socket_timeout=CALL_SECONDS,
            retry=Retry(NoBackoff(), 0))
        self.client: Redis = Redis.from_pool(self.pool)
        self.url = url
        self.prefix = key_prefix
        self._clock = clock
        self._down_until = 0.0
        self._guard = _Guard(self)

    def key(self, name: str) -> str:
        """A key of the shared counters and budgets (all in one hash slot)."""
        return f"{self.prefix}{HASH_TAG}:{name}"

    def script(self, source: str) -> Callable[[Sequence[str], Sequence[Any]], Any]:
        """A Lua script, sent once and then called by its digest (EVALSHA)."""
        registered: AsyncScript = self.client.register_script(source)

        async def run(keys: Sequence[str], args: Sequence[Any]) -> Any:
            with self._guard:
                return await registered(keys=list(keys), args=list(args))

        return run

    def guard(self) -> _Guard:
        """`with connection.guard(): await …`: Redis errors become `BackendUnavailable`."""
        return self._guard

    async def ping(self) -> bool:
        try:
            with self._guard:
                await self.client.ping()
        except BackendUnavailable:
            return False
        return True

    async def aclose(self) -> None:
        await self.client.aclose()

    def _failed(self, exc: BaseException) -> BackendUnavailable:
        if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError | TimeoutError):
            if not self._down_until:
                log.warning("redis unreachable: %s", exc)
            self._down_until = self._clock() + DOWN_SECONDS
        return BackendUnavailable(f"redis: {exc or type(exc).__name__}")

    def _answered(self) -> None:
        if self._down_until:
            self._down_until = 0.0
            log.warning("redis reachable again")

    def _check(self) -> None:
        if self._down_until and self._clock() < self._down_until:
            raise BackendUnavailable("redis: unreachable a moment ago; not retried yet")


class _Guard:
    """Re-entrant and stateless per use: one instance serves every concurrent call."""

    __slots__ = ("_connection",)

    def __init__(self, connection: RedisConnection) -> None:
        self._connection = connection

    def __enter__(self) -> None:
        self._connection._check()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self._connection._answered()
        elif isinstance(exc, RedisError | OSError | TimeoutError):
            raise self._connection._failed(exc) from exc


def number(value: float) -> str:
    """A float as an argument of a script: the shortest text that reads back exactly."""
    return repr(float(value))


# Helpers every script starts with. `clock` reads the server's clock (`TIME`) unless the
# caller passed one (tests that move time); numbers go back to Redis formatted explicitly,
# since Lua's own conversion keeps 14 digits and writes large integers in exponent form.
LUA_PRELUDE = """
local function clock(given)
  if given ~= '' then return tonumber(given) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function num(x) return string.format('%.17g', x) end
local function int(x) return string.format('%d', x) end
local function unit(holder, k)
  if k == 1 then return holder end
  return holder .. '#' .. k
end
-- A lease holds one unit per member: `holder`, `holder#2`, ... (ZSCORE: is unit k there?)
local function units(key, holder)
  local n = 0
  while redis.call('ZSCORE', key, unit(holder, n + 1)) do n = n + 1 end
  return n
end
"""

# Push the leases of requests this process still serves `lease` seconds further.
# KEYS: sorted sets of leases; ARGV: now, lease, then per key: holder, units, gauge (1/0).
RENEW = LUA_PRELUDE + """
local now = clock(ARGV[1])
local lease = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local at = 2 + (i - 1) * 3
  local holder, count = ARGV[at + 1], tonumber(ARGV[at + 2])
  for k = 1, count do redis.call('ZADD', key, 'XX', num(now + lease), unit(holder, k)) end
  if ARGV[at + 3] == '1' and redis.call('EXISTS', key) == 1 then
    redis.call('PEXPIRE', key, math.ceil(lease * 1000) + 1000)
  end
end
return #KEYS
"""

RENEW_BATCH = 500


def now_argument(clock: Callable[[], float] | None) -> str:
    """The `now` of a script: empty for the Redis server's clock, else the given clock's."""
    return "" if clock is None else number(clock())


class Leases:
    """Leases this process holds in sorted sets (gauge slots and budget reservations of its
    requests in flight), renewed together. A replica that dies stops renewing, and its
    leases lapse within `seconds` instead of holding slots and money forever."""

    def __init__(self, connection: RedisConnection, *, seconds: float,
                 clock: Callable[[], float] | None = None) -> None:
        self.seconds = seconds
        self._clock = clock
        self._held: dict[tuple[str, str], list[int]] = {}  # (key, holder) -> [units, gauge]
        self._renew = connection.script(RENEW)

    def __len__(self) -> int:
        return len(self._held)

    def add(self, key: str, holder: str, units: int, *, gauge: bool) -> None:
        found = self._held.get((key, holder))
        if found is None:
            self._held[(key, holder)] = [units, int(gauge)]
        else:
            found[0] += units

    def remove(self, key: str, holder: str, units: int) -> None:
        found = self._held.get((key, holder))
        if found is not None:
            found[0] -= units
            if found[0] <= 0:
                del self._held[(key, holder)]

    async def renew(self) -> int:
        """Push every held lease `seconds` further; how many (key, holder) pairs."""
        held = list(self._held.items())
        for start in range(0, len(held), RENEW_BATCH):
            batch = held[start:start + RENEW_BATCH]
            args: list[Any] = [now_argument(self._clock), number(self.seconds)]
            for (_, holder), (units, gauge) in batch:
                args += [holder, units, gauge]
            await self._renew([key for (key, _), _ in batch], args)
        return len(held)
