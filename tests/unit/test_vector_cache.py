"""The embedders' shared content-hash cache: one computation per distinct new text, rows in
input order, least recently used evicted first."""

from __future__ import annotations

import numpy as np

from pavedroad.rag.vector_cache import F32, VectorCache


def test_computes_each_distinct_new_text_once_and_keeps_input_order() -> None:
    asked: list[list[str]] = []

    def compute(texts: list[str]) -> list[F32]:
        asked.append(texts)
        return [np.full(2, float(len(t)), np.float32) for t in texts]

    cache = VectorCache(2, size=10)
    first = cache.embed(["a", "bbb", "a"], compute)
    assert asked == [["a", "bbb"]]
    assert first[:, 0].tolist() == [1.0, 3.0, 1.0]
    second = cache.embed(["bbb", "cc"], compute)
    assert asked[-1] == ["cc"] and second[:, 0].tolist() == [3.0, 2.0]


def test_least_recently_used_goes_first() -> None:
    calls: list[str] = []

    def compute(texts: list[str]) -> list[F32]:
        calls.extend(texts)
        return [np.ones(1, np.float32) for _ in texts]

    cache = VectorCache(1, size=2)
    cache.embed(["x", "y"], compute)
    cache.embed(["x"], compute)  # y is now the oldest
    cache.embed(["z"], compute)  # evicts y
    calls.clear()
    cache.embed(["x", "y", "z"], compute)
    assert calls == ["y"]
