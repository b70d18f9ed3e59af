"""bge-small-en-v1.5 sentence embeddings through onnxruntime (the `pavedroad[onnx]` extra).

bge is asymmetric: a search query is prefixed with an instruction, a passage is embedded
as it is. `BgeEmbedder.embed` is for passages (what ingestion stores) and `embed_queries`
for queries (`rag.types.embed_queries` picks it), so a collection's stored vectors and its
queries each get the form the model was trained on. The vector is the [CLS] token's final
hidden state, L2-normalised, as the model card says. docs/adr/0023 says why this model.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pavedroad.localmodels import onnx_bert

F32 = npt.NDArray[np.float32]

MODEL = "bge-small-en-v1.5"
QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
MAX_TOKENS = 512  # the model's position limit; a 256-token chunk with its headers fits


def available() -> bool:
    """True when onnxruntime, tokenizers and the bundled bge files are installed."""
    return onnx_bert.available()


class BgeEmbedder:
    """Implements `rag.types.Embedder` (passages) and `rag.types.QueryEmbedder` (queries):
    384-d, cached by content hash (a query's key covers its instruction, so a text asked
    as a query and stored as a passage never share a vector)."""

    name = MODEL
    dimensions = 384

    def __init__(self, *, cache_size: int = 4096, threads: int = 1) -> None:
        self._model = onnx_bert.OnnxBert(MODEL, max_tokens=MAX_TOKENS, threads=threads)
        self._cache: OrderedDict[bytes, F32] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # the cache; the session has its own lock

    def _forward(self, texts: Sequence[str]) -> list[F32]:
        out: list[F32] = []
        for hidden in self._model.run(texts):
            cls = hidden[0]
            out.append((cls / max(float(np.linalg.norm(cls)), 1e-12)).astype(np.float32))
        return out

    def embed_sync(self, texts: Sequence[str]) -> F32:
        """Vectors of `texts` exactly as given (passages; queries go through
        `embed_queries_sync`, which adds the instruction)."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        todo: dict[bytes, list[int]] = {}
        with self._lock:
            for i, key in enumerate(keys):
                found = self._cache.get(key)
                if found is None:
                    todo.setdefault(key, []).append(i)
                else:
                    out[i] = found
                    self._cache.move_to_end(key)  # least recently used goes first
        if todo:
            firsts = [rows[0] for rows in todo.values()]
            vectors = self._forward([texts[i] for i in firsts])
            with self._lock:
                for (key, rows), vector in zip(todo.items(), vectors, strict=True):
                    out[rows] = vector
                    self._cache[key] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def embed_queries_sync(self, queries: Sequence[str]) -> F32:
        return self.embed_sync([QUERY_INSTRUCTION + q for q in queries])

    async def embed(self, texts: Sequence[str]) -> F32:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return await asyncio.to_thread(self.embed_sync, texts)

    async def embed_queries(self, queries: Sequence[str]) -> F32:
        if not queries:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return await asyncio.to_thread(self.embed_queries_sync, queries)
