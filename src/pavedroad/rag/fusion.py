"""How hybrid search combines BM25 and vector rankings: by rank or by normalised score.

Reciprocal rank fusion (Cormack et al., 2009, constant k = 60) needs no calibration: BM25
scores and cosines live on unrelated scales. A convex combination of min-max normalised
scores keeps how far ahead a top hit is, which rank fusion throws away, and usually beats
it once its one weight is tuned (Bruch et al., 2023, "An analysis of fusion functions for
hybrid retrieval"). The default is plain RRF; an embedder with a tuned setting gets it
(`fusion_for`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

RRF_K = 60
CANDIDATES = 50  # per ranked list fused in hybrid mode
FusionMethod = Literal["rrf", "convex"]


@dataclass(frozen=True, slots=True)
class Fusion:
    """How hybrid search weighs its two rankings; the defaults are plain RRF over the top
    `candidates` of each. `method="convex"`: weighted sum of min-max normalised scores
    (`k` unused)."""

    k: int = RRF_K
    bm25_weight: float = 1.0
    vector_weight: float = 1.0
    method: FusionMethod = "rrf"
    candidates: int = CANDIDATES


PLAIN_RRF = Fusion()

# Chosen on the dev split of evals/retrieval/ with the local MiniLM (RESULTS.md there).
MINILM_FUSION = Fusion(method="convex", bm25_weight=0.3, vector_weight=0.7, candidates=20)

# bge-small's best on the same dev grid is the same setting (80.0 nDCG@10; top 50: 80.3,
# one question's noise), so it shares it rather than carry a second tuned number.
BGE_FUSION = MINILM_FUSION

# The setting for collections made with a given embedder (by `Embedder.name`); others get
# plain RRF.
FUSIONS: dict[str, Fusion] = {"minilm-l6-v2": MINILM_FUSION, "bge-small-en-v1.5": BGE_FUSION}


def fusion_for(embedder: str) -> Fusion:
    return FUSIONS.get(embedder, PLAIN_RRF)


def fuse(lexical: Sequence[tuple[int, float]], semantic: Sequence[tuple[int, float]],
         fusion: Fusion, *, limit: int | None = None) -> list[tuple[int, float]]:
    """Fuse a BM25 and a vector ranking, each (item, score) best first, as `fusion` says;
    each is cut to its first `fusion.candidates` (or `limit`, if more) items first."""
    depth = max(fusion.candidates, limit or 0)
    weights = (fusion.bm25_weight, fusion.vector_weight)
    if fusion.method == "convex":
        return convex_fusion([lexical[:depth], semantic[:depth]], weights=weights, limit=limit)
    return reciprocal_rank_fusion([[i for i, _ in lexical[:depth]],
                                   [i for i, _ in semantic[:depth]]],
                                  k=fusion.k, weights=weights, limit=limit)


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


def convex_fusion(rankings: Sequence[Sequence[tuple[int, float]]], *,
                  weights: Sequence[float], limit: int | None = None) -> list[tuple[int, float]]:
    """Fuse (id, score) lists, best first, by the weighted sum of each list's min-max
    normalised scores (its top scores 1, its last 0; all 1 when they are equal); an item
    missing from a list gets 0 there. Ties keep the order in which items were first seen."""
    fused: dict[int, float] = {}
    for ranked, weight in zip(rankings, weights, strict=True):
        if not ranked:
            continue
        top, bottom = ranked[0][1], ranked[-1][1]
        spread = top - bottom
        for item, score in ranked:
            share = (score - bottom) / spread if spread > 0 else 1.0
            fused[item] = fused.get(item, 0.0) + weight * share
    out = sorted(fused.items(), key=lambda pair: -pair[1])
    return out if limit is None else out[:limit]
