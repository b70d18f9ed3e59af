"""A cross-encoder reranker: ms-marco-MiniLM-L-12-v2 through onnxruntime (`pavedroad[onnx]`).

A cross-encoder reads the query and a passage together, so it judges relevance far better
than comparing two separately made vectors, at the price of one forward pass per candidate
(~30 ms on one core for a 256-token chunk). It therefore only reorders the first few
candidates of a search (`RetrievalService(rerank_candidates=...)`). It reads the chunk's
own text: with the title and section prepended it ranked worse on the dev split. Its score
is blended with the first stage's, half and half (`WEIGHT`): alone, it lost to hybrid
search on dev. docs/adr/0023 says why this model; evals/retrieval/RESULTS.md how the depth,
the text and the blend were chosen.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

import numpy as np

from pavedroad.localmodels import onnx_bert
from pavedroad.rag.types import Hit

MODEL = "ms-marco-minilm-l12"
MAX_TOKENS = 512  # query and passage together, the model's position limit
WEIGHT = 0.5  # the model's share of the reranked score; chosen on the dev split


def available() -> bool:
    """True when onnxruntime, tokenizers and the bundled cross-encoder are installed."""
    return onnx_bert.available()


def blend(model: Sequence[float], fused: Sequence[float], *,
          weight: float) -> list[float]:
    """`weight` x the min-max normalised model scores + (1 - weight) x the min-max
    normalised first-stage scores; weight 1 is the model alone. Normalising both keeps the
    blend independent of the logits' and the fusion's scales."""

    def unit(values: Sequence[float]) -> np.ndarray:
        array = np.asarray(values, dtype=np.float64)
        spread = float(array.max() - array.min()) if len(array) else 0.0
        return (array - array.min()) / spread if spread > 0 else np.ones_like(array)

    if weight >= 1.0:
        return [float(v) for v in model]
    mixed = weight * unit(model) + (1.0 - weight) * unit(fused)
    return [float(v) for v in mixed]


class CrossEncoderReranker:
    """Implements `rag.types.Reranker`. A hit's new `score` is the model's logit (or the
    blend, when `weight` < 1); ties keep the first-stage order."""

    name = MODEL

    def __init__(self, *, weight: float = WEIGHT, threads: int = 1) -> None:
        if not 0.0 <= weight <= 1.0:
            raise ValueError("weight must be between 0 and 1")
        self.weight = weight
        self._model = onnx_bert.OnnxBert(MODEL, max_tokens=MAX_TOKENS, threads=threads)

    def scores_sync(self, query: str, passages: Sequence[str]) -> list[float]:
        """The model's relevance logit for each (query, passage); higher is more relevant."""
        if not passages:
            return []
        return [float(out[0]) for out in self._model.run([(query, p) for p in passages])]

    def rerank_sync(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        scores = blend(self.scores_sync(query, [h.text for h in hits]), [h.score for h in hits],
                       weight=self.weight)
        order = sorted(range(len(hits)), key=lambda i: -scores[i])  # stable: ties keep order
        return [dataclasses.replace(hits[i], score=scores[i]) for i in order]

    async def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        if not hits:
            return []
        return await asyncio.to_thread(self.rerank_sync, query, hits)
