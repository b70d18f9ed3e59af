"""An embedder that calls the gateway's own embeddings routing for a `kind: embedding` model,
so retrieval gets that model's fallback, retries, kill switch, limits and metrics for free.

Texts go in batches; vectors are L2-normalised here (not every provider returns unit
vectors) and cached by content hash, so re-ingesting unchanged text costs nothing.
"""

from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from pavedroad.core.errors import UpstreamBadResponse
from pavedroad.core.ids import new_id
from pavedroad.core.types import Caller, EmbeddingRequest, EmbeddingResponse

F32 = npt.NDArray[np.float32]

# Retrieval embeds on the gateway's own behalf, not a caller's: no key, no app budget.
SYSTEM_CALLER = Caller(key_id="system", name="retrieval", models=None, is_admin=True)


class EmbeddingRunner(Protocol):
    """`service.chat.EmbeddingService`: one embeddings request through the router."""

    async def run(self, request: EmbeddingRequest) -> tuple[EmbeddingResponse, Any]: ...


class GatewayEmbedder:
    """Implements `rag.types.Embedder` over a model of kind `embedding`."""

    def __init__(self, runner: EmbeddingRunner, model: str, dimensions: int, *,
                 batch: int = 64, cache_size: int = 8192) -> None:
        self._runner = runner
        self.model = model
        self.dimensions = dimensions
        self.name = f"gateway:{model}"
        self._batch = batch
        self._cache: OrderedDict[bytes, F32] = OrderedDict()
        self._cache_size = cache_size

    async def embed(self, texts: Sequence[str]) -> F32:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        todo = [i for i, key in enumerate(keys) if key not in self._cache]
        for start in range(0, len(todo), self._batch):
            rows = todo[start:start + self._batch]
            vectors = await self._call([texts[i] for i in rows])
            for i, vector in zip(rows, vectors, strict=True):
                self._cache[keys[i]] = vector
        for i, key in enumerate(keys):
            out[i] = self._cache[key]
            self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out

    async def _call(self, texts: list[str]) -> F32:
        request = EmbeddingRequest(model=self.model, body={"model": self.model, "input": texts},
                                   request_id=new_id("req"), caller=SYSTEM_CALLER)
        response, _ = await self._runner.run(request)
        vectors = _vectors(response.body, len(texts), self.model)
        if vectors.shape[1] != self.dimensions:
            raise UpstreamBadResponse(
                f"embedding model {self.model!r} returned {vectors.shape[1]} dimensions; "
                f"retrieval is configured for {self.dimensions} (retrieval.embedding_dimensions)")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: F32 = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return normalised


def _vectors(body: dict[str, Any], count: int, model: str) -> F32:
    """The `data[].embedding` rows of an OpenAI embeddings response, in input order."""
    data = body.get("data")
    if not isinstance(data, list) or len(data) != count:
        raise UpstreamBadResponse(f"embedding model {model!r} returned "
                                  f"{len(data) if isinstance(data, list) else 'no'} vectors "
                                  f"for {count} inputs")
    malformed = UpstreamBadResponse(f"embedding model {model!r} returned a malformed vector")
    rows: list[Any] = [None] * count
    for position, item in enumerate(data):
        index = item.get("index", position) if isinstance(item, dict) else position
        value = item.get("embedding") if isinstance(item, dict) else None
        if isinstance(value, str):  # encoding_format: base64
            try:
                value = np.frombuffer(base64.b64decode(value, validate=True), dtype=np.float32)
            except ValueError:  # not base64, or not a whole number of float32s
                raise malformed from None
        if (not isinstance(index, int) or not 0 <= index < count or rows[index] is not None
                or not isinstance(value, list | np.ndarray)):
            raise malformed
        rows[index] = value
    try:
        vectors = np.asarray(rows, dtype=np.float32).reshape(count, -1)
    except (ValueError, TypeError) as exc:  # uneven rows, or items that are not numbers
        raise UpstreamBadResponse(f"embedding model {model!r} returned vectors of uneven "
                                  "length or non-numbers") from exc
    if not np.isfinite(vectors).all():  # null items become NaN, which no index can rank
        raise malformed
    return vectors
