"""bge-small-en-v1.5 sentence embeddings through onnxruntime (the `pavedroad[onnx]` extra).

bge is asymmetric: a search query is prefixed with an instruction, a passage is embedded
as it is. `BgeEmbedder.embed` is for passages (what ingestion stores) and `embed_queries`
for queries (`rag.types.embed_queries` picks it), so a collection's stored vectors and its
queries each get the form the model was trained on. The vector is the [CLS] token's final
hidden state, L2-normalised, as the model card says. docs/adr/0023 says why this model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pavedroad.localmodels import onnx_bert
from pavedroad.rag.vector_cache import VectorCache

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
        self._cache = VectorCache(self.dimensions, size=cache_size)  # the session has its own lock

    def _forward(self, texts: Sequence[str]) -> list[F32]:
        out: list[F32] = []
        for hidden in self._model.run(texts):
            cls = hidden[0]
            out.append((cls / max(float(np.linalg.norm(cls)), 1e-12)).astype(np.float32))
        return out

    def embed_sync(self, texts: Sequence[str]) -> F32:
        """Vectors of `texts` exactly as given (passages; queries go through
        `embed_queries_sync`, which adds the instruction)."""
        return self._cache.embed(texts, self._forward)

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
