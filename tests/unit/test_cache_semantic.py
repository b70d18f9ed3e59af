"""The in-process semantic index: threshold, context and scope isolation, bounds."""

from __future__ import annotations

import math

import numpy as np

from pavedroad.cache.semantic import MemorySemanticIndex, Vector, unit

CTX = b"c" * 32
OTHER_CTX = b"d" * 32


def at_angle(cosine: float) -> Vector:
    """A 3-d vector whose cosine with (1, 0, 0) is `cosine`."""
    return np.array([cosine, math.sqrt(1 - cosine * cosine), 0.0], dtype=np.float32)


X = np.array([1.0, 0.0, 0.0], dtype=np.float32)


def index(**kwargs: int) -> MemorySemanticIndex:
    return MemorySemanticIndex(max_entries_per_scope=kwargs.get("per_scope", 100),
                               max_scopes=kwargs.get("scopes", 10))


async def test_a_match_needs_similarity_at_or_above_the_threshold() -> None:
    idx = index()
    await idx.add("t/a/m", CTX, X * 3, b"k1")  # length does not matter, direction does
    hit = await idx.search("t/a/m", CTX, at_angle(0.96), threshold=0.95)
    assert hit is not None and hit.key == b"k1" and abs(hit.similarity - 0.96) < 1e-4
    assert await idx.search("t/a/m", CTX, at_angle(0.94), threshold=0.95) is None
    assert await idx.search("t/a/m", CTX, at_angle(0.94), threshold=0.9) is not None


async def test_the_most_similar_entry_wins() -> None:
    idx = index()
    await idx.add("s", CTX, at_angle(0.97), b"near")
    await idx.add("s", CTX, at_angle(0.999), b"nearest")
    await idx.add("s", CTX, at_angle(0.2), b"far")
    hit = await idx.search("s", CTX, X, threshold=0.95)
    assert hit is not None and hit.key == b"nearest"


async def test_other_contexts_and_scopes_never_match_even_when_identical() -> None:
    idx = index()
    await idx.add("ten_a/app/m", CTX, X, b"a")
    assert await idx.search("ten_a/app/m", OTHER_CTX, X, threshold=0.5) is None
    assert await idx.search("ten_b/app/m", CTX, X, threshold=0.5) is None
    assert await idx.search("ten_a/app2/m", CTX, X, threshold=0.5) is None
    assert await idx.search("ten_a/app/m2", CTX, X, threshold=0.5) is None


async def test_a_full_scope_drops_its_least_recently_used_entry() -> None:
    idx = index(per_scope=3)
    vectors = {f"k{i}".encode(): np.eye(4, dtype=np.float32)[i] for i in range(4)}
    for key in list(vectors)[:3]:
        await idx.add("s", CTX, vectors[key], key)
    assert await idx.search("s", CTX, vectors[b"k0"], threshold=0.9) is not None  # k0 used
    await idx.add("s", CTX, vectors[b"k3"], b"k3")
    assert idx.entries("s") == 3
    assert await idx.search("s", CTX, vectors[b"k1"], threshold=0.9) is None  # k1 evicted
    for key in (b"k0", b"k2", b"k3"):
        found = await idx.search("s", CTX, vectors[key], threshold=0.9)
        assert found is not None and found.key == key


async def test_scopes_are_bounded_and_discard_forgets_an_entry() -> None:
    idx = index(scopes=2)
    for scope in ("s1", "s2", "s3"):
        await idx.add(scope, CTX, X, scope.encode())
    assert idx.entries("s1") == 0 and idx.entries("s3") == 1
    await idx.add("s3", CTX, at_angle(0.0), b"other")
    await idx.discard("s3", b"s3")
    assert await idx.search("s3", CTX, X, threshold=0.9) is None
    found = await idx.search("s3", CTX, at_angle(0.0), threshold=0.9)
    assert found is not None and found.key == b"other"


async def test_re_adding_a_key_replaces_it_and_dimension_changes_reset_the_scope() -> None:
    idx = index()
    await idx.add("s", CTX, X, b"k")
    await idx.add("s", CTX, at_angle(0.0), b"k")
    assert idx.entries("s") == 1
    assert await idx.search("s", CTX, X, threshold=0.9) is None
    await idx.add("s", CTX, np.ones(8, dtype=np.float32), b"k8")  # a new embedding model
    assert idx.entries("s") == 1
    assert await idx.search("s", CTX, X, threshold=0.1) is None  # old dims: no crash, no hit


async def test_growth_keeps_every_entry_findable() -> None:
    idx = index(per_scope=100)
    rng = np.random.default_rng(7)
    vectors = [rng.normal(size=32).astype(np.float32) for _ in range(60)]
    for i, vector in enumerate(vectors):
        await idx.add("s", CTX if i % 2 else OTHER_CTX, vector, str(i).encode())
    for i, vector in enumerate(vectors):
        found = await idx.search("s", CTX if i % 2 else OTHER_CTX, vector, threshold=0.99)
        assert found is not None and found.key == str(i).encode()


def test_zero_and_non_finite_vectors_are_refused() -> None:
    assert unit([0.0, 0.0]) is None
    assert unit([float("nan"), 1.0]) is None
    assert unit([]) is None
    normalised = unit([3.0, 4.0])
    assert normalised is not None and np.allclose(normalised, [0.6, 0.8])
