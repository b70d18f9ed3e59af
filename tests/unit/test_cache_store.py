"""The CacheStore contract in process and in Redis (TTL, size refusals, overwrites), the
in-process store's own bytes bound and LRU order, and the stored entry format."""

from __future__ import annotations

from pavedroad.cache.entry import Entry
from pavedroad.cache.redis_store import RedisCacheStore
from pavedroad.cache.store import ENTRY_OVERHEAD, MemoryCacheStore
from pavedroad.store.redis import RedisConnection
from tests.support.backends import Backend, Clock


def entry_size(key: bytes, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD


async def test_total_bytes_never_exceed_the_bound_and_the_least_recent_goes_first() -> None:
    value = b"v" * 100
    size = entry_size(b"k0", value)
    store = MemoryCacheStore(max_bytes=3 * size, clock=Clock())
    for i in range(3):
        assert await store.set(f"k{i}".encode(), value, ttl=60)
    assert store.bytes == 3 * size and len(store) == 3
    assert await store.get(b"k0") == value  # k0 is now the most recent; k1 the least
    assert await store.set(b"k3", value, ttl=60)
    assert store.bytes <= store.max_bytes
    assert await store.get(b"k1") is None
    assert {await store.get(k) for k in (b"k0", b"k2", b"k3")} == {value}
    for i in range(100):  # many more writes: the bound still holds
        await store.set(f"x{i}".encode(), value * (i % 3 + 1), ttl=60)
        assert store.bytes <= store.max_bytes


async def test_entries_expire_after_their_ttl(backend: Backend) -> None:
    store = backend.cache(max_bytes=10_000)
    await store.set(b"short", b"1", ttl=5)
    await store.set(b"long", b"2", ttl=50)
    await backend.advance(4.9)
    assert await store.get(b"short") == b"1"
    await backend.advance(0.2)
    assert await store.get(b"short") is None
    assert await store.get(b"long") == b"2"
    if isinstance(store, MemoryCacheStore):
        assert store.bytes == entry_size(b"long", b"2")  # the expired entry's bytes are freed


async def test_oversized_entries_and_zero_ttls_are_refused(backend: Backend) -> None:
    store = backend.cache(max_bytes=10_000, max_entry_bytes=500)
    assert not await store.set(b"big", b"x" * 500, ttl=60)
    assert not await store.set(b"none", b"x", ttl=0)
    assert await store.get(b"big") is None and await store.get(b"none") is None
    if isinstance(store, MemoryCacheStore):
        assert len(store) == 0 and store.bytes == 0


async def test_overwriting_and_deleting(backend: Backend) -> None:
    store = backend.cache(max_bytes=10_000)
    await store.set(b"k", b"x" * 100, ttl=60)
    await store.set(b"k", b"y" * 10, ttl=60)
    assert await store.get(b"k") == b"y" * 10
    if isinstance(store, MemoryCacheStore):
        assert store.bytes == entry_size(b"k", b"y" * 10)  # the byte count stays exact
    await store.delete(b"k")
    await store.delete(b"missing")
    assert await store.get(b"k") is None
    if isinstance(store, MemoryCacheStore):
        assert store.bytes == 0


async def test_redis_entries_live_under_the_configured_prefix(redis_backend: Backend) -> None:
    connection = redis_backend.connection
    assert connection is not None
    store = redis_backend.cache(max_bytes=10_000)
    key = b"pavedroad:cache:v1:ten_a:app_a:x:abc"
    assert await store.set(key, b"answer", ttl=60)
    stored_as = connection.prefix + "cache:v1:ten_a:app_a:x:abc"
    assert await connection.client.get(stored_as) == b"answer"
    assert await connection.client.pttl(stored_as) > 59_000
    # Another deployment on the same Redis (another prefix) never sees it.
    other = RedisConnection(connection.url, max_connections=2, key_prefix="elsewhere:")
    try:
        assert await RedisCacheStore(other, max_entry_bytes=10_000).get(key) is None
    finally:
        await other.aclose()


def test_entries_round_trip_and_unknown_versions_are_ignored() -> None:
    entry = Entry(1234.5, "sim-openai", b'{"id":"x"}')
    assert Entry.decode(entry.encode()) == entry
    assert Entry.decode(Entry(1.0, "", b"{}").encode()) == Entry(1.0, "", b"{}")
    assert Entry.decode(b"\x02" + entry.encode()[1:]) is None
    assert Entry.decode(b"short") is None
