"""`RedisCounterStore`: the rate-limit counters in Redis, shared by every replica.

The same semantics as `LocalCounterStore` (docs/adr/0008-limits-and-budgets.md): `take`
checks every claim and takes all or none in one Lua script, so no two requests on any
replicas can both win the last slot. A bucket is a hash `{level, at}` that expires when it
would be full again; the clock is the Redis server's (`TIME`), so replicas with skewed
clocks agree. A gauge is a sorted set of the units in use, each scored by its lease's end:
a unit of a replica that died lapses instead of holding the slot forever
(docs/adr/0013-redis-scale-out.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pavedroad.limits.counter import GAUGE_RETRY_SECONDS, Admission, Claim, level_of
from pavedroad.store.redis import LUA_PRELUDE, Leases, RedisConnection, now_argument, number

# Shared by both scripts. A bucket's level refills at limit/window per second, up to limit.
_COUNTERS = LUA_PRELUDE + """
local function level(key, limit, window, now)
  local found = redis.call('HMGET', key, 'level', 'at')
  if not found[1] then return limit end
  return math.min(limit, tonumber(found[1]) + (now - tonumber(found[2])) * limit / window)
end
-- A full bucket is the same as none: deleted; else kept until it would be full again.
local function set_level(key, limit, window, value, now)
  if value >= limit then
    redis.call('DEL', key)
    return
  end
  redis.call('HSET', key, 'level', num(value), 'at', num(now))
  redis.call('PEXPIRE', key, math.ceil((limit - value) * window / limit * 1000) + 1000)
end
local function hold(key, holder, amount, now, lease)
  local n = units(key, holder)
  for k = n + 1, n + amount do redis.call('ZADD', key, num(now + lease), unit(holder, k)) end
  redis.call('PEXPIRE', key, math.ceil(lease * 1000) + 1000)
end
local function release(key, holder, amount)
  local n = units(key, holder)
  for k = n, math.max(1, n - amount + 1), -1 do redis.call('ZREM', key, unit(holder, k)) end
end
local now = clock(ARGV[1])
local lease = tonumber(ARGV[2])
local holder = ARGV[3]
local function claim(i)  -- window ('g': a gauge), limit, amount
  local at = 3 + (i - 1) * 3
  return ARGV[at + 1], tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
end
"""

# KEYS: one counter per claim. ARGV: now ('' = the server's), lease, holder, then per claim
# window, limit, amount. Returns the index of the first refusing claim (-1: admitted), the
# wait, and every counter's value (a bucket's level, a gauge's units in use).
_TAKE = _COUNTERS + """
local current = {}
local refused = -1
local wait = 0
for i, key in ipairs(KEYS) do
  local window, limit, amount = claim(i)
  if window == 'g' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', num(now))
    current[i] = redis.call('ZCARD', key)
    if current[i] + amount > limit then
      if refused < 0 then refused = i - 1 end
      wait = math.max(wait, GAUGE_WAIT)
    end
  else
    window = tonumber(window)
    current[i] = level(key, limit, window, now)
    local need = math.min(amount, limit)
    if current[i] < need then
      if refused < 0 then refused = i - 1 end
      wait = math.max(wait, (need - current[i]) * window / limit)
    end
  end
end
if refused < 0 then
  for i, key in ipairs(KEYS) do
    local window, limit, amount = claim(i)
    if window == 'g' then
      hold(key, holder, amount, now, lease)
      current[i] = current[i] + amount
    else
      current[i] = math.min(limit, current[i] - amount)
      set_level(key, limit, tonumber(window), current[i], now)
    end
  end
end
local out = {refused, num(wait)}
for i = 1, #KEYS do out[#out + 1] = num(current[i]) end
return out
""".replace("GAUGE_WAIT", repr(GAUGE_RETRY_SECONDS))

# The same arguments as _TAKE; gives every amount back without checking anything.
_GIVE = _COUNTERS + """
for i, key in ipairs(KEYS) do
  local window, limit, amount = claim(i)
  if window == 'g' then
    if amount > 0 then release(key, holder, amount) end
    if amount < 0 then hold(key, holder, -amount, now, lease) end
  else
    window = tonumber(window)
    set_level(key, limit, window, math.min(limit, level(key, limit, window, now) + amount), now)
  end
end
return #KEYS
"""


class RedisCounterStore:
    """Counters every replica shares. `clock` None (production): the Redis server's clock;
    tests pass one to move time."""

    def __init__(
        self, connection: RedisConnection, *, leases: Leases | None = None,
        lease_seconds: float = 30.0, clock: Callable[[], float] | None = None,
    ) -> None:
        self._connection = connection
        self.leases = leases or Leases(connection, seconds=lease_seconds, clock=clock)
        self._clock = clock
        self._take = connection.script(_TAKE)
        self._give = connection.script(_GIVE)

    async def take(self, claims: Sequence[Claim], *, holder: str) -> Admission:
        if not claims:
            return Admission(())
        keys = [self._connection.key(claim.key) for claim in claims]
        result = await self._take(keys, self._arguments(claims, holder))
        refused = int(result[0])
        values = [float(value) for value in result[2:]]
        if refused < 0:
            for claim, key in zip(claims, keys, strict=True):
                if claim.is_gauge:
                    self.leases.add(key, holder, claim.amount, gauge=True)
        levels = tuple(level_of(claim, value) for claim, value in zip(claims, values, strict=True))
        return Admission(levels, None if refused < 0 else refused, float(result[1]))

    async def give(self, claims: Sequence[Claim], *, holder: str) -> None:
        if not claims:
            return
        keys = [self._connection.key(claim.key) for claim in claims]
        try:
            await self._give(keys, self._arguments(claims, holder))
        finally:  # given back or not, this process stops renewing: a lost give lapses
            for claim, key in zip(claims, keys, strict=True):
                if claim.is_gauge:
                    self.leases.remove(key, holder, claim.amount)

    def _arguments(self, claims: Sequence[Claim], holder: str) -> list[Any]:
        args: list[Any] = [now_argument(self._clock), number(self.leases.seconds), holder]
        for claim in claims:
            window = "g" if claim.window is None else number(claim.window)
            args += [window, claim.limit, claim.amount]
        return args
