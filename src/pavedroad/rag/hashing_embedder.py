"""A deterministic, dependency-free embedder: feature hashing of words, word pairs and
character n-grams, L2-normalised.

It knows nothing of meaning, but it is stable across machines and releases, needs no
weights, and catches shared vocabulary and spelling variants; the tests and the torch-free
install use it.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pavedroad.rag.bm25 import analyze


def _bucket(feature: str, dimensions: int) -> tuple[int, float]:
    """A stable bucket and sign for a feature (Python's `hash` changes per process)."""
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dimensions, (1.0 if value >> 63 else -1.0)


_CACHE_LIMIT = 500_000


class HashingEmbedder:
    """Implements `rag.types.Embedder`. Each word's features (the word and its character
    n-grams) are hashed once and cached, so long runs of text cost one dict lookup a word."""

    def __init__(self, dimensions: int = 256, *, char_ngrams: tuple[int, ...] = (3, 4)) -> None:
        if dimensions < 8:
            raise ValueError("dimensions must be at least 8")
        self.dimensions = dimensions
        self.name = f"hashing-{dimensions}"
        self._ngrams = char_ngrams
        self._words: dict[str, tuple[list[int], list[float]]] = {}
        self._pairs: dict[str, tuple[int, float]] = {}

    def _word(self, word: str) -> tuple[list[int], list[float]]:
        """A word's buckets and signed weights; its n-grams together weigh as much as it."""
        found = self._words.get(word)
        if found is not None:
            return found
        padded = f"<{word}>"
        grams = [padded[i:i + n] for n in self._ngrams
                 for i in range(max(1, len(padded) - n + 1))]
        index, sign = _bucket(f"w:{word}", self.dimensions)
        buckets, weights = [index], [sign]
        for gram in grams:
            index, sign = _bucket(f"c:{gram}", self.dimensions)
            buckets.append(index)
            weights.append(sign / len(grams))
        if len(self._words) < _CACHE_LIMIT:
            self._words[word] = (buckets, weights)
        return buckets, weights

    def _pair(self, first: str, second: str) -> tuple[int, float]:
        key = f"{first} {second}"
        found = self._pairs.get(key)
        if found is None:
            index, sign = _bucket(f"b:{key}", self.dimensions)
            found = (index, sign * 0.5)
            if len(self._pairs) < _CACHE_LIMIT:
                self._pairs[key] = found
        return found

    def embed_sync(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            # The terms BM25 indexes (stopwords dropped, light stemming): function words
            # would otherwise dominate every vector.
            words = analyze(text)
            buckets: list[int] = []
            weights: list[float] = []
            for word in words:
                b, w = self._word(word)
                buckets += b
                weights += w
            for first, second in itertools.pairwise(words):
                index, weight = self._pair(first, second)
                buckets.append(index)
                weights.append(weight)
            if buckets:
                out[row] = np.bincount(buckets, weights=weights, minlength=self.dimensions)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        result: npt.NDArray[np.float32] = out / norms
        return result

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if len(texts) <= 4:  # a query: cheaper than a thread hop
            return self.embed_sync(texts)
        return await asyncio.to_thread(self.embed_sync, texts)  # keep the event loop free
