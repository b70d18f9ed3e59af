"""`RedisCacheStore`: cached answers in Redis, so a response cached by one replica is a hit
on every other.

Entries are plain strings with a time to live (`SET … PX`). The total size is Redis's to
bound (its `maxmemory`), not `cache.max_bytes`; `cache.max_entry_bytes` still refuses
oversized entries. Keys are not hash-tagged: each call touches one key, so entries spread
over a Redis Cluster's slots.
"""

from __future__ import annotations

import math

from pavedroad.cache.store import entry_size
from pavedroad.store.redis import RedisConnection

# The cache names its own keys (`pavedroad:cache:v1:<tenant>:<app>:…`, cache/key.py); the
# configured `redis.key_prefix` takes the place of their first part.
_OWN_NAMESPACE = b"pavedroad:"


class RedisCacheStore:
    def __init__(self, connection: RedisConnection, *, max_entry_bytes: int) -> None:
        self._connection = connection
        self._prefix = connection.prefix.encode()
        self.max_entry_bytes = max_entry_bytes

    def _key(self, key: bytes) -> bytes:
        return self._prefix + key.removeprefix(_OWN_NAMESPACE)

    async def get(self, key: bytes) -> bytes | None:
        with self._connection.guard():
            found = await self._connection.client.get(self._key(key))
        if found is None:
            return None
        return found if isinstance(found, bytes) else found.encode()  # never str: raw replies

    async def set(self, key: bytes, value: bytes, *, ttl: float) -> bool:
        if entry_size(key, value) > self.max_entry_bytes or ttl <= 0:
            return False
        with self._connection.guard():
            await self._connection.client.set(self._key(key), value, px=max(1, math.ceil(ttl * 1000)))
        return True

    async def delete(self, key: bytes) -> None:
        with self._connection.guard():
            await self._connection.client.delete(self._key(key))
