"""The semantic cache's index: which stored answer, if any, was asked in the same words.

An index maps (scope, context, vector) to the exact key of a stored answer. A search only
looks inside one scope (tenant, app, model) and only at entries with the same context
digest (see `key.SemanticQuery`), then compares vectors by cosine similarity. The
in-process index is brute force over at most `max_entries_per_scope` vectors per scope,
least recently used first out; a Redis or pgvector index implements the same protocol.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from pavedroad.core.types import Caller, EmbeddingRequest
from pavedroad.routing.router import Router, RouteTrace

Vector = npt.NDArray[np.float32]
_CONTEXT_BYTES = 16  # the context digest is shortened to this; collisions are 2**-64 rare


@dataclass(slots=True, frozen=True)
class Match:
    key: bytes
    similarity: float


class SemanticIndex(Protocol):
    async def search(self, scope: str, context: bytes, vector: Vector, *,
                     threshold: float) -> Match | None:
        """The most similar entry at or above `threshold`, in this scope and context."""
        ...

    async def add(self, scope: str, context: bytes, vector: Vector, key: bytes) -> None: ...

    async def discard(self, scope: str, key: bytes) -> None:
        """Forget an entry whose stored answer is gone (expired or evicted)."""
        ...


def unit(values: Sequence[float] | Vector) -> Vector | None:
    """The vector scaled to length 1 (so a dot product is the cosine); None if zero."""
    vector = np.asarray(values, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(vector))
    if not vector.size or not np.isfinite(norm) or norm == 0.0:
        return None
    return vector / np.float32(norm)


def _short(context: bytes) -> bytes:
    return context[:_CONTEXT_BYTES] if len(context) >= _CONTEXT_BYTES else hashlib.sha256(
        context).digest()[:_CONTEXT_BYTES]


class _ScopeIndex:
    """One scope's vectors in a matrix that grows by doubling up to its capacity."""

    def __init__(self, dim: int, capacity: int) -> None:
        self.dim = dim
        self.capacity = capacity
        size = min(capacity, 16)
        self.vectors: Vector = np.zeros((size, dim), dtype=np.float32)
        self.contexts = np.zeros(size, dtype=f"S{_CONTEXT_BYTES}")
        self.used = np.zeros(size, dtype=np.int64)
        self.keys: list[bytes] = []
        self.slot_of: dict[bytes, int] = {}

    def search(self, context: bytes, vector: Vector, threshold: float,
               tick: int) -> Match | None:
        count = len(self.keys)
        slots = np.flatnonzero(self.contexts[:count] == context)
        if not slots.size:
            return None
        scores = self.vectors[slots] @ vector
        best = int(np.argmax(scores))
        similarity = float(scores[best])
        if similarity < threshold:
            return None
        slot = int(slots[best])
        self.used[slot] = tick
        return Match(self.keys[slot], similarity)

    def add(self, context: bytes, vector: Vector, key: bytes, tick: int) -> None:
        slot = self.slot_of.get(key)
        if slot is None:
            if len(self.keys) < self.capacity:
                slot = len(self.keys)
                self._grow_to(slot + 1)
                self.keys.append(key)
            else:  # full: the least recently used entry makes room
                slot = int(np.argmin(self.used[: len(self.keys)]))
                del self.slot_of[self.keys[slot]]
                self.keys[slot] = key
            self.slot_of[key] = slot
        self.vectors[slot] = vector
        self.contexts[slot] = context
        self.used[slot] = tick

    def discard(self, key: bytes) -> None:
        slot = self.slot_of.pop(key, None)
        if slot is None:
            return
        last = len(self.keys) - 1
        if slot != last:  # move the last entry into the hole
            moved = self.keys[last]
            self.keys[slot] = moved
            self.slot_of[moved] = slot
            self.vectors[slot] = self.vectors[last]
            self.contexts[slot] = self.contexts[last]
            self.used[slot] = self.used[last]
        self.keys.pop()

    def _grow_to(self, needed: int) -> None:
        size = len(self.used)
        if needed <= size:
            return
        size = min(self.capacity, max(needed, size * 2))
        self.vectors = np.resize(self.vectors, (size, self.dim))
        self.contexts = np.resize(self.contexts, size)
        self.used = np.resize(self.used, size)

    def __len__(self) -> int:
        return len(self.keys)


class MemorySemanticIndex:
    """In-process brute-force index: at most `max_scopes` scopes (least recently used
    dropped whole) of at most `max_entries_per_scope` vectors each."""

    def __init__(self, *, max_entries_per_scope: int, max_scopes: int) -> None:
        self.max_entries_per_scope = max_entries_per_scope
        self.max_scopes = max_scopes
        self._scopes: OrderedDict[str, _ScopeIndex] = OrderedDict()
        self._ticks = itertools.count(1)

    def entries(self, scope: str) -> int:
        found = self._scopes.get(scope)
        return len(found) if found is not None else 0

    async def search(self, scope: str, context: bytes, vector: Vector, *,
                     threshold: float) -> Match | None:
        index = self._scopes.get(scope)
        query = unit(vector)
        if index is None or query is None or query.shape[0] != index.dim:
            return None
        self._scopes.move_to_end(scope)
        return index.search(_short(context), query, threshold, next(self._ticks))

    async def add(self, scope: str, context: bytes, vector: Vector, key: bytes) -> None:
        entry = unit(vector)
        if entry is None:
            return
        index = self._scopes.get(scope)
        if index is None or index.dim != entry.shape[0]:  # new scope, or the model changed
            index = _ScopeIndex(entry.shape[0], self.max_entries_per_scope)
            self._scopes[scope] = index
            while len(self._scopes) > self.max_scopes:
                self._scopes.popitem(last=False)
        self._scopes.move_to_end(scope)
        index.add(_short(context), entry, key, next(self._ticks))

    async def discard(self, scope: str, key: bytes) -> None:
        index = self._scopes.get(scope)
        if index is not None:
            index.discard(key)


class Embedder(Protocol):
    async def embed(self, text: str, *, caller: Caller, request_id: str) -> Vector: ...


class EmbeddingFailed(Exception):
    """The embedding model gave no usable vector; the request goes on without the
    semantic cache."""


class RouterEmbedder:
    """Embeddings from a model this gateway serves, through its own router (retries,
    fallback, breakers and kill switch included)."""

    def __init__(self, router: Router, model: str) -> None:
        self._router = router
        self.model = model

    async def embed(self, text: str, *, caller: Caller, request_id: str) -> Vector:
        request = EmbeddingRequest(model=self.model, body={"model": self.model, "input": text},
                                   request_id=request_id, caller=caller)
        response, _ = await self._router.embed(request, RouteTrace())
        data = response.body.get("data")
        first = data[0] if isinstance(data, list) and data else None
        values = first.get("embedding") if isinstance(first, dict) else None
        if not isinstance(values, list) or not values:
            raise EmbeddingFailed(f"embedding model {self.model!r} returned no float vector")
        return np.asarray(values, dtype=np.float32)
