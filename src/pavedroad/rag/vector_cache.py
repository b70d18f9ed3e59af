"""An in-memory cache of text vectors keyed by content hash, shared by the local embedders.

Re-ingesting a changed document re-embeds mostly unchanged chunk texts, and the same query
is often asked twice: both are served from here. The least recently used entry goes first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


class VectorCache:
    """`embed(texts, compute)` returns one row per text, calling `compute` once for the
    distinct texts it has not seen (outside its lock: `compute` guards its own model)."""

    def __init__(self, dimensions: int, *, size: int = 4096) -> None:
        self.dimensions = dimensions
        self._size = size
        self._vectors: OrderedDict[bytes, F32] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str],
              compute: Callable[[list[str]], Sequence[F32] | F32]) -> F32:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        todo: dict[bytes, list[int]] = {}
        with self._lock:
            for i, key in enumerate(keys):
                found = self._vectors.get(key)
                if found is None:
                    todo.setdefault(key, []).append(i)
                else:
                    out[i] = found
                    self._vectors.move_to_end(key)
        if todo:
            vectors = compute([texts[rows[0]] for rows in todo.values()])
            with self._lock:
                for (key, rows), vector in zip(todo.items(), vectors, strict=True):
                    out[rows] = vector
                    self._vectors[key] = vector
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        return out
