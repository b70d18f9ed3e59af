"""BM25, the hashing embedder, rank and score fusion, filters and snapshots of an in-process
index."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pavedroad.core.errors import InvalidRequest
from pavedroad.rag.bm25 import BM25Index, analyze
from pavedroad.rag.fusion import (
    MINILM_FUSION,
    PLAIN_RRF,
    Fusion,
    convex_fusion,
    fuse,
    fusion_for,
    reciprocal_rank_fusion,
)
from pavedroad.rag.hashing_embedder import HashingEmbedder
from pavedroad.rag.index import CollectionIndex, IndexedChunk
from pavedroad.rag.snapshot import IndexSnapshots, snapshot_dir_for

TEXTS = [
    "Virtual keys are stored hashed and can be revoked at any time.",
    "Budgets reserve the worst case before the provider is called.",
    "The kill switch turns a deployment off without a restart.",
    "Rate limits apply per key, app, team and tenant.",
]


def test_analyze_folds_case_drops_stopwords_and_stems() -> None:
    assert analyze("The Deployments are RUNNING") == ["deployment", "runn"]
    assert analyze("policies") == ["policy"]


def test_bm25_matches_the_textbook_formula() -> None:
    index = BM25Index.build(TEXTS)
    scores = index.scores("revoked keys")
    assert int(np.argmax(scores)) == 0
    assert scores[1] == 0.0
    # Hand-computed for document 0: both terms once; "revok" in 1 document, "key" in 2.
    lengths = [len(analyze(t)) for t in TEXTS]
    avg = sum(lengths) / len(lengths)
    idf = [math.log1p((4 - df + 0.5) / (df + 0.5)) for df in (1, 2)]
    norm = 1.2 * (1 - 0.75 + 0.75 * lengths[0] / avg)
    expected = sum(idf) * (1 * 2.2) / (1 + norm)
    assert scores[0] == pytest.approx(expected, rel=1e-5)
    assert not index.scores("zebra").any()


def test_hashing_embedder_is_deterministic_normalised_and_lexical() -> None:
    first, second = HashingEmbedder(256), HashingEmbedder(256)
    a = first.embed_sync(TEXTS)
    b = second.embed_sync(TEXTS)
    assert a.dtype == np.float32 and a.shape == (4, 256)
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    query = first.embed_sync(["how do I revoke a key"])[0]
    assert int(np.argmax(a @ query)) == 0
    assert not first.embed_sync([""]).any()  # empty text: a zero vector, not NaN


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]])
    assert [item for item, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert len(reciprocal_rank_fusion([[1, 2], [2, 3]], limit=2)) == 2


def test_convex_fusion_weighs_min_max_normalised_scores() -> None:
    bm25 = [(1, 10.0), (2, 5.0), (3, 0.0)]  # normalised: 1.0, 0.5, 0.0
    vector = [(3, 0.9), (2, 0.4)]  # normalised: 1.0, 0.0
    fused = convex_fusion([bm25, vector], weights=(0.3, 0.7))
    assert [item for item, _ in fused] == [3, 1, 2]
    assert [score for _, score in fused] == pytest.approx([0.7, 0.3, 0.15])
    top_two = convex_fusion([bm25, vector], weights=(0.9, 0.1), limit=2)
    assert [item for item, _ in top_two] == [1, 2]
    # A list whose scores are all equal counts each item as its best, not as its worst.
    [(item, score)] = convex_fusion([[(5, 2.0)], []], weights=(0.3, 0.7))
    assert item == 5 and score == pytest.approx(0.3)


def test_fuse_cuts_each_ranking_to_the_candidate_depth() -> None:
    bm25 = [(i, 10.0 - i) for i in range(10)]
    vector = [(9, 0.9), (8, 0.8), (0, 0.1)]
    shallow = Fusion(method="convex", bm25_weight=0.5, vector_weight=0.5, candidates=2)
    # Depth 2 keeps BM25 items 0 and 1 and vector items 9 and 8.
    assert {item for item, _ in fuse(bm25, vector, shallow)} == {0, 1, 9, 8}
    assert [item for item, _ in fuse(bm25, vector, PLAIN_RRF, limit=2)] == [0, 9]


def test_fusion_follows_the_collection_embedder() -> None:
    assert fusion_for("minilm-l6-v2") is MINILM_FUSION
    assert fusion_for("bge-small-en-v1.5") == MINILM_FUSION  # the same setting won on dev
    assert MINILM_FUSION.method == "convex"
    assert fusion_for("hashing-256") == PLAIN_RRF == Fusion()


def _index() -> CollectionIndex:
    chunks = [IndexedChunk(f"chk_{i}", f"doc_{i % 2}", text, f"docs/{'a' if i % 2 else 'b'}.md",
                           "Title", "Ops > Keys" if i == 0 else "Ops", i * 10, i * 10 + 5,
                           {"team": "red" if i < 2 else "blue", "year": 2024 + i})
              for i, text in enumerate(TEXTS)]
    vectors = HashingEmbedder(256).embed_sync(TEXTS)
    return CollectionIndex.build("col_x", 3, chunks, vectors)


def test_modes_filters_and_hits() -> None:
    index = _index()
    vector = HashingEmbedder(256).embed_sync(["revoke keys"])[0]
    for mode in ("bm25", "vector", "hybrid"):
        ranked = index.search("revoke keys", vector, k=2, mode=mode)  # type: ignore[arg-type]
        assert ranked[0][0] == 0, mode
    only_blue = index.search("revoke keys", vector, k=4, mode="hybrid", filters={"team": "blue"})
    assert {row for row, _ in only_blue} == {2, 3}
    assert [r for r, _ in index.search("x", vector, k=4, mode="vector",
                                       filters={"year": [2025, 2027]})] in ([1, 3], [3, 1])
    assert {r for r, _ in index.search("keys", vector, k=4, mode="vector",
                                       filters={"section": "Ops"})} == {0, 1, 2, 3}
    assert {r for r, _ in index.search("keys", vector, k=4, mode="vector",
                                       filters={"section": "Ops > Keys"})} == {0}
    assert {r for r, _ in index.search("keys", vector, k=4, mode="vector",
                                       filters={"source": "docs/"})} == {0, 1, 2, 3}
    assert index.search("keys", vector, k=4, mode="bm25", filters={"source": "docs/"
                                                                   "nope.md"}) == []
    hit = index.hit(0, 0.5)
    assert hit.citation.collection == "col_x" and hit.citation.section == "Ops > Keys"
    assert (hit.citation.start, hit.citation.end) == (0, 5)
    with pytest.raises(InvalidRequest, match="filter 'team'"):
        index.search("keys", vector, k=4, mode="bm25", filters={"team": {"$ne": "x"}})


def test_snapshot_round_trip_and_version_check(tmp_path: Path) -> None:
    index = _index()
    snapshots = IndexSnapshots(tmp_path)
    snapshots.save(index)
    loaded = snapshots.load("col_x", 3)
    assert loaded is not None
    assert loaded.chunks == index.chunks
    assert np.array_equal(loaded.bm25.scores("revoke keys"), index.bm25.scores("revoke keys"))
    assert snapshots.load("col_x", 4) is None  # another version: rebuilt from the store
    (tmp_path / "col_x" / "v3.json").write_text("{broken")
    assert snapshots.load("col_x", 3) is None
    snapshots.drop("col_x")
    assert not (tmp_path / "col_x").exists()
    assert snapshot_dir_for("sqlite:////data/p.db") == Path("/data/p.db.rag")
    assert snapshot_dir_for("postgresql://u@h/db") is None
