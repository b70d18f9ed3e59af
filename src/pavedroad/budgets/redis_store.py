"""`RedisBudgetStore`: budget accounts in Redis, shared by every replica.

The same semantics as `LocalBudgetStore`. An account is a hash: `spent`, `reserved` (the
sum of live reservations) and one `r:<holder>` field per request holding a reservation,
whose lease is in a sorted set beside it. A replica that dies mid-request stops renewing
its leases, and the next call on the account returns what they held. Money is whole
nano-USD added with `HINCRBY`: exact (compared in Lua's doubles, so up to 2^53 nano-USD,
about 9 million USD, per account).

A generation marker tells whether Redis still holds what the gateways seeded: when it is
gone (Redis restarted empty), reservations are refused until the accounts are seeded from
the ledger again, instead of silently starting every budget from zero
(docs/adr/0013-redis-scale-out.md).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from pavedroad.budgets.store import Account, Balance, Shortfall
from pavedroad.core.errors import BackendUnavailable
from pavedroad.store.redis import LUA_PRELUDE, Leases, RedisConnection, now_argument, number

_ACCOUNTS = LUA_PRELUDE + """
local function field(account, name) return tonumber(redis.call('HGET', account, name) or '0') end
-- Reservations whose lease lapsed (their replica died) are returned to the account.
local function prune(account, leases, now)
  local gone = redis.call('ZRANGEBYSCORE', leases, '-inf', num(now))
  if #gone == 0 then return end
  local freed = 0
  for _, holder in ipairs(gone) do
    freed = freed + field(account, 'r:' .. holder)
    redis.call('HDEL', account, 'r:' .. holder)
  end
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', num(now))
  if freed > 0 then redis.call('HINCRBY', account, 'reserved', int(-freed)) end
end
local function expire(account, leases, expires_at, now)
  if expires_at == '' then return end
  local ms = math.max(1, math.ceil((tonumber(expires_at) - now) * 1000))
  redis.call('PEXPIRE', account, ms)
  redis.call('PEXPIRE', leases, ms)
end
"""

# KEYS: the generation marker, then per account its hash and its leases. ARGV: now, lease,
# holder, amount, then per account: limit ('' = none), expires_at ('' = never).
# Returns {-2} when the marker is gone, {-1} when reserved, else {index, spent, reserved}.
_RESERVE = _ACCOUNTS + """
local now = clock(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return {-2} end
local lease, holder, amount = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local need = tonumber(amount)
local n = (#KEYS - 1) / 2
for i = 1, n do
  local account, leases = KEYS[2 * i], KEYS[2 * i + 1]
  prune(account, leases, now)
  local limit = ARGV[3 + 2 * i]
  if limit ~= '' then
    local spent, reserved = field(account, 'spent'), field(account, 'reserved')
    local committed = spent + reserved
    limit = tonumber(limit)
    if committed + need > limit or committed >= limit then return {i - 1, spent, reserved} end
  end
end
for i = 1, n do
  local account, leases = KEYS[2 * i], KEYS[2 * i + 1]
  if need > 0 then
    redis.call('HINCRBY', account, 'reserved', amount)
    redis.call('HINCRBY', account, 'r:' .. holder, amount)
    redis.call('ZADD', leases, num(now + lease), holder)
  end
  expire(account, leases, ARGV[4 + 2 * i], now)
end
return {-1}
"""

# KEYS as _RESERVE. ARGV: now, holder, reserved, actual, then per account: expires_at.
# Releases what this holder still holds (at most `reserved`), adds `actual` to spent;
# returns each account's spent, or nothing when the marker is gone (the ledger has it).
_SETTLE = _ACCOUNTS + """
local now = clock(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local holder, reserved, actual = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local out = {}
for i = 1, (#KEYS - 1) / 2 do
  local account, leases = KEYS[2 * i], KEYS[2 * i + 1]
  prune(account, leases, now)
  local mine = field(account, 'r:' .. holder)
  local release = math.min(mine, reserved)
  if release > 0 then
    redis.call('HINCRBY', account, 'reserved', int(-release))
    if mine > release then
      redis.call('HINCRBY', account, 'r:' .. holder, int(-release))
    else
      redis.call('HDEL', account, 'r:' .. holder)
      redis.call('ZREM', leases, holder)
    end
  end
  out[i] = redis.call('HINCRBY', account, 'spent', actual)
  expire(account, leases, ARGV[4 + i], now)
end
return out
"""

# KEYS: per account its hash and its leases. ARGV: now. Returns spent, reserved per account.
_BALANCES = _ACCOUNTS + """
local now = clock(ARGV[1])
local out = {}
for i = 1, #KEYS / 2 do
  local account = KEYS[2 * i - 1]
  prune(account, KEYS[2 * i], now)
  out[#out + 1] = field(account, 'spent')
  out[#out + 1] = field(account, 'reserved')
end
return out
"""

# KEYS: the account's hash and leases. ARGV: now, spent, expires_at. 1 when it was absent.
_SEED = _ACCOUNTS + """
local now = clock(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'spent', ARGV[2])
expire(KEYS[1], KEYS[2], ARGV[3], now)
return 1
"""


class RedisBudgetStore:
    """Budget accounts every replica shares. `clock` None (production): the Redis server's
    clock for leases and expiry; tests pass one to move time."""

    def __init__(
        self, connection: RedisConnection, *, leases: Leases | None = None,
        lease_seconds: float = 30.0, clock: Callable[[], float] | None = None,
    ) -> None:
        self._connection = connection
        self.leases = leases or Leases(connection, seconds=lease_seconds, clock=clock)
        self._clock = clock
        self._generation = connection.key("budget-generation")
        self._reserve = connection.script(_RESERVE)
        self._settle = connection.script(_SETTLE)
        self._balances = connection.script(_BALANCES)
        self._seed = connection.script(_SEED)

    def _keys(self, account_keys: Sequence[str]) -> list[str]:
        out = []
        for name in account_keys:
            key = self._connection.key(name)
            out += [key, f"{key}:leases"]
        return out

    async def reserve(
        self, accounts: Sequence[Account], amount: int, *, holder: str
    ) -> Shortfall | None:
        keys = self._keys([account.key for account in accounts])
        args: list[Any] = [now_argument(self._clock), number(self.leases.seconds), holder, amount]
        for account in accounts:
            args += ["" if account.limit is None else account.limit, _expiry(account)]
        result = await self._reserve([self._generation, *keys], args)
        index = int(result[0])
        if index == -2:
            raise BackendUnavailable("redis: budget accounts were lost (a restart?); "
                                     "they are being seeded from the ledger again")
        if index >= 0:
            return Shortfall(index, Balance(int(result[1]), int(result[2])))
        if amount > 0:
            for lease_key in keys[1::2]:
                self.leases.add(lease_key, holder, 1, gauge=False)
        return None

    async def settle(
        self, accounts: Sequence[Account], *, reserved: int, actual: int, holder: str
    ) -> list[int]:
        keys = self._keys([account.key for account in accounts])
        args: list[Any] = [now_argument(self._clock), holder, reserved, actual]
        args += [_expiry(account) for account in accounts]
        try:
            result = await self._settle([self._generation, *keys], args)
        finally:  # settled or not, this process stops renewing: a lost one lapses
            if reserved > 0:
                for lease_key in keys[1::2]:
                    self.leases.remove(lease_key, holder, 1)
        if not result:  # the accounts were lost: seeding from the ledger will count this
            return [0] * len(accounts)
        return [int(spent) for spent in result]

    async def balances(self, keys: Sequence[str]) -> list[Balance]:
        if not keys:
            return []
        result = await self._balances(self._keys(keys), [now_argument(self._clock)])
        return [Balance(int(result[i]), int(result[i + 1])) for i in range(0, len(result), 2)]

    async def seed(self, account: Account, spent: int) -> bool:
        args = [now_argument(self._clock), spent, _expiry(account)]
        return bool(await self._seed(self._keys([account.key]), args))

    async def once(self, marker: str, *, expires_at: float | None) -> bool:
        key = self._connection.key(marker)
        ttl_ms = None
        if expires_at is not None:
            now = self._clock() if self._clock is not None else time.time()
            ttl_ms = max(1, math.ceil((expires_at - now) * 1000))
        with self._connection.guard():
            return bool(await self._connection.client.set(key, b"1", nx=True, px=ttl_ms))

    async def generation(self) -> str | None:
        with self._connection.guard():
            found = await self._connection.client.get(self._generation)
        return None if found is None else _text(found)

    async def mark_seeded(self) -> str:
        with self._connection.guard():
            client = self._connection.client
            await client.set(self._generation, uuid.uuid4().hex.encode(), nx=True)
            found = await client.get(self._generation)
        if found is None:  # lost again in between: the next refresh seeds again
            raise BackendUnavailable("redis: budget accounts were lost while seeding")
        return _text(found)


def _expiry(account: Account) -> str:
    return "" if account.expires_at is None else number(account.expires_at)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
