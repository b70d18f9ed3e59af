"""Where cached answers live: a small bytes-in, bytes-out protocol and an in-process LRU.

Keys and values are bytes and every call is async, so `cache.redis_store.RedisCacheStore`
(GET, SET with PX, DEL) replaces `MemoryCacheStore` without changing its callers.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

# What one entry costs beyond its key and value (the dict slot, the tuple, two objects):
# counted so that many tiny entries cannot overrun `max_bytes`.
ENTRY_OVERHEAD = 160


class CacheStore(Protocol):
    """Bytes keyed by bytes, each with a time to live, bounded in total size."""

    async def get(self, key: bytes) -> bytes | None: ...

    async def set(self, key: bytes, value: bytes, *, ttl: float) -> bool:
        """Store `value` for `ttl` seconds; False when it was not stored (too large)."""
        ...

    async def delete(self, key: bytes) -> None: ...


class MemoryCacheStore:
    """An LRU of entries in this process, bounded by `max_bytes` (keys, values and a fixed
    per-entry overhead); an expired entry is dropped when it is next read."""

    def __init__(
        self, *, max_bytes: int, max_entry_bytes: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes or max_bytes, max_bytes)
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: bytes) -> bytes | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires, value = found
        if expires <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: bytes, value: bytes, *, ttl: float) -> bool:
        size = entry_size(key, value)
        if size > self.max_entry_bytes or ttl <= 0:
            return False
        if key in self._entries:
            self._drop(key)
        self._make_room(size)
        self._entries[key] = (self._clock() + ttl, value)
        self.bytes += size
        return True

    async def delete(self, key: bytes) -> None:
        if key in self._entries:
            self._drop(key)

    def _drop(self, key: bytes) -> None:
        _, value = self._entries.pop(key)
        self.bytes -= entry_size(key, value)

    def _make_room(self, size: int) -> None:
        # No sweep for expired entries: it would cost O(entries) per write once full.
        # An entry nobody reads drifts to the LRU end and goes first anyway.
        while self._entries and self.bytes + size > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)


def entry_size(key: bytes, value: bytes) -> int:
    """What an entry counts against `max_entry_bytes` (and, in memory, `max_bytes`)."""
    return len(key) + len(value) + ENTRY_OVERHEAD
