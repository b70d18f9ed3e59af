"""The in-process cache store (bytes bound, LRU order, TTL) and the stored entry format."""

from __future__ import annotations

from pavedroad.cache.entry import Entry
from pavedroad.cache.store import ENTRY_OVERHEAD, MemoryCacheStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


async def test_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    store = MemoryCacheStore(max_bytes=10_000, clock=clock)
    await store.set(b"short", b"1", ttl=5)
    await store.set(b"long", b"2", ttl=50)
    clock.now += 4.9
    assert await store.get(b"short") == b"1"
    clock.now += 0.2
    assert await store.get(b"short") is None
    assert await store.get(b"long") == b"2"
    assert store.bytes == entry_size(b"long", b"2")  # the expired entry's bytes are freed


async def test_oversized_entries_and_zero_ttls_are_refused() -> None:
    store = MemoryCacheStore(max_bytes=10_000, max_entry_bytes=500, clock=Clock())
    assert not await store.set(b"big", b"x" * 500, ttl=60)
    assert not await store.set(b"none", b"x", ttl=0)
    assert len(store) == 0 and store.bytes == 0


async def test_overwriting_and_deleting_keep_the_byte_count_exact() -> None:
    store = MemoryCacheStore(max_bytes=10_000, clock=Clock())
    await store.set(b"k", b"x" * 100, ttl=60)
    await store.set(b"k", b"y" * 10, ttl=60)
    assert await store.get(b"k") == b"y" * 10
    assert store.bytes == entry_size(b"k", b"y" * 10)
    await store.delete(b"k")
    await store.delete(b"missing")
    assert store.bytes == 0 and await store.get(b"k") is None


def test_entries_round_trip_and_unknown_versions_are_ignored() -> None:
    entry = Entry(1234.5, "sim-openai", b'{"id":"x"}')
    assert Entry.decode(entry.encode()) == entry
    assert Entry.decode(Entry(1.0, "", b"{}").encode()) == Entry(1.0, "", b"{}")
    assert Entry.decode(b"\x02" + entry.encode()[1:]) is None
    assert Entry.decode(b"short") is None
