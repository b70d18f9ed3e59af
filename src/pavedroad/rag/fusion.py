"""Reciprocal rank fusion: combine ranked lists by rank alone.

BM25 scores and cosine similarities live on unrelated scales; fusing ranks needs no
calibration (Cormack et al., 2009, with their constant k = 60).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RRF_K = 60


@dataclass(frozen=True, slots=True)
class Fusion:
    """How hybrid search weighs its two rankings; the defaults are plain RRF. A strong
    embedder earns a larger vector weight: see `MINILM_FUSION`."""

    k: int = RRF_K
    bm25_weight: float = 1.0
    vector_weight: float = 1.0


PLAIN_RRF = Fusion()

# Tuned on the dev split of evals/retrieval/ with the local MiniLM (RESULTS.md there):
# a small k and a heavier vector weight beat plain RRF at every chunk size tried.
MINILM_FUSION = Fusion(k=5, bm25_weight=0.4, vector_weight=0.6)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], *, k: int = RRF_K,
                           limit: int | None = None,
                           weights: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """Fuse lists of item ids (best first) into (id, score), best first; ties keep the
    order in which items were first seen. `weights`: one per ranking (default 1 each)."""
    scores: dict[int, float] = {}
    for i, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[i]
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank + 1)
    fused = sorted(scores.items(), key=lambda pair: -pair[1])
    return fused if limit is None else fused[:limit]
