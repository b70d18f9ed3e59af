"""The retrieval evaluation: its metrics on hand cases, and the integrity of its data set.

The data checks matter because a gold quote that drifted from the corpus would silently
score every retriever as wrong.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pavedroad.rag.fusion import PLAIN_RRF, Fusion, reciprocal_rank_fusion
from pavedroad.rag.hashing_embedder import HashingEmbedder
from pavedroad.rag.ingest import SourceDocument
from pavedroad.rag.parse import parse
from pavedroad.rag.service import RetrievalService
from pavedroad.store.database import create_engine, migrate

ROOT = Path(__file__).resolve().parents[2]
EVAL_DIR = ROOT / "evals" / "retrieval"
HTML = Path("/usr/share/doc/postgresql-doc-15/html")


def _load(name: str, path: Path) -> ModuleType:
    """bench/ and evals/ are scripts, not packages: load them by path."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


rag_eval = _load("rag_eval", ROOT / "bench" / "rag_eval.py")
build_corpus = _load("build_corpus", EVAL_DIR / "build_corpus.py")


# --- metrics on hand cases -------------------------------------------------------------


def test_recall_counts_only_the_first_k() -> None:
    assert rag_eval.recall_at([False, False, True], 2) == 0.0
    assert rag_eval.recall_at([False, False, True], 3) == 1.0
    assert rag_eval.recall_at([], 5) == 0.0


def test_mrr_is_the_inverse_rank_of_the_first_relevant_result() -> None:
    assert rag_eval.mrr_at([False, True, True], 10) == 0.5
    assert rag_eval.mrr_at([True], 10) == 1.0
    assert rag_eval.mrr_at([False] * 10 + [True], 10) == 0.0


def test_ndcg_against_hand_computed_values() -> None:
    assert rag_eval.ndcg_at([True, False], 10, 1) == 1.0
    assert rag_eval.ndcg_at([False, True], 10, 1) == pytest.approx(1 / math.log2(3))
    # two relevant chunks (overlapping chunks both touch the gold span), found at ranks 2 and 3
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert rag_eval.ndcg_at([False, True, True], 10, 2) == pytest.approx(expected)
    assert rag_eval.ndcg_at([False] * 10 + [True], 10, 1) == 0.0
    assert rag_eval.ndcg_at([], 10, 0) == 0.0


def test_score_run_averages_in_points() -> None:
    scores = rag_eval.score_run([([True], 1), ([False, True], 1)])
    assert scores["n"] == 2
    assert scores["recall@5"] == 100.0
    assert scores["mrr@10"] == pytest.approx(75.0)
    assert scores["ndcg@10"] == pytest.approx(50 * (1 + 1 / math.log2(3)))


def test_weighted_rrf_orders_by_weighted_reciprocal_rank() -> None:
    fused = rag_eval.weighted_rrf([[1, 2], [2, 3]], [1.0, 1.0], k=0, limit=10)
    assert fused == [2, 1, 3]  # 2: 1/2 + 1/1; 1: 1/1; 3: 1/2
    assert rag_eval.weighted_rrf([[1, 2], [2, 3]], [1.0, 0.1], k=0, limit=1) == [1]


def test_convex_fusion_weights_min_max_normalised_scores() -> None:
    bm25 = [(1, 10.0), (2, 5.0), (3, 0.0)]  # normalised: 1.0, 0.5, 0.0
    vector = [(3, 0.9), (2, 0.4)]  # normalised: 1.0, 0.0
    assert rag_eval.convex_fusion([bm25, vector], [0.2, 0.8], limit=10) == [3, 1, 2]
    assert rag_eval.convex_fusion([bm25, vector], [0.9, 0.1], limit=2) == [1, 2]
    assert rag_eval.convex_fusion([[], vector], [0.5, 0.5], limit=10) == [3, 2]


def test_product_fusion_weights_each_ranking() -> None:
    """The `weights=` argument added to rag.fusion for the tuned hybrid row."""
    assert [i for i, _ in reciprocal_rank_fusion([[1, 2], [2, 1]], weights=(1.0, 0.0))] == [1, 2]
    assert [i for i, _ in reciprocal_rank_fusion([[1, 2], [2, 1]], weights=(0.4, 0.6))] == [2, 1]
    [(item, score)] = reciprocal_rank_fusion([[7], [7]], k=5, weights=(0.4, 0.6))
    assert item == 7 and score == pytest.approx(1.0 / 6)  # 0.4/6 + 0.6/6
    assert Fusion(k=60, bm25_weight=1.0, vector_weight=1.0) == PLAIN_RRF


async def test_embed_cache_reuses_vectors_across_runs(tmp_path: Path) -> None:
    class Counting(HashingEmbedder):
        calls = 0

        async def embed(self, texts: Any) -> Any:
            Counting.calls += len(texts)
            return await super().embed(texts)

    path = tmp_path / "vectors.npz"
    first = await rag_eval.CachedEmbedder(Counting(), path).embed(["a b", "c d", "a b"])
    again = await rag_eval.CachedEmbedder(Counting(), path).embed(["c d", "a b"])
    assert Counting.calls == 2  # "a b" and "c d" once each, the second run from the file
    assert (again == first[[1, 0]]).all()
    # A file made by another embedder is not used.
    other = rag_eval.CachedEmbedder(HashingEmbedder(64), path)
    assert (await other.embed(["a b"])).shape == (1, 64)


def test_span_overlap_needs_the_same_document_and_a_shared_character() -> None:
    gold = rag_eval.Span("a.md", 10, 20)
    assert gold.overlaps("a.md", 19, 30)
    assert gold.overlaps("a.md", 0, 11)
    assert not gold.overlaps("a.md", 20, 30)  # touching is not overlapping
    assert not gold.overlaps("a.md", 0, 10)
    assert not gold.overlaps("b.md", 10, 20)


def test_gold_span_rejects_missing_and_ambiguous_quotes() -> None:
    q = rag_eval.Question("q", "dev", "?", "a.md", "S", "needle")
    assert rag_eval.gold_span(q, "hay needle hay") == rag_eval.Span("a.md", 4, 10)
    with pytest.raises(ValueError):
        rag_eval.gold_span(q, "hay hay")
    with pytest.raises(ValueError):
        rag_eval.gold_span(q, "needle needle")


# --- the data set ----------------------------------------------------------------------

QUESTIONS = rag_eval.load_questions()
CORPUS = rag_eval.load_corpus()


def test_enough_questions_with_unique_ids_and_texts() -> None:
    assert len(QUESTIONS) >= 80
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    assert len({q.question for q in QUESTIONS}) == len(QUESTIONS)
    assert all(q.question.strip() and q.quote.strip() and q.section for q in QUESTIONS)


def test_splits_are_by_page_and_both_are_used() -> None:
    pages_of: dict[str, set[str]] = {}
    for q in QUESTIONS:
        assert q.split in ("dev", "test")
        pages_of.setdefault(q.file, set()).add(q.split)
    assert all(len(splits) == 1 for splits in pages_of.values()), "a page is in both splits"
    counts = Counter(q.split for q in QUESTIONS)
    assert counts["dev"] >= 20 and counts["test"] >= 80


def test_split_follows_the_documented_page_hash_rule() -> None:
    for q in QUESTIONS:
        digest = int(hashlib.sha256(q.file.removesuffix(".md").encode()).hexdigest(), 16)
        assert q.split == ("dev" if digest % 10 < 3 else "test"), q.id


def test_corpus_size_and_every_page_has_questions() -> None:
    assert 40 <= len(CORPUS) <= 80
    assert {q.file for q in QUESTIONS} == set(CORPUS)


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.id)
def test_gold_quote_occurs_once_in_the_extracted_text(question: Any) -> None:
    data = CORPUS[question.file]
    extracted = parse(question.file, data).text  # what the chunker cuts and cites
    span = rag_eval.gold_span(question, extracted)
    assert extracted[span.start:span.end] == question.quote
    assert data.decode("utf-8").count(question.quote) == 1


def _heading_before(text: str, position: int) -> str | None:
    heading, fenced, offset = None, False, 0
    for line in text.split("\n"):
        if offset > position:
            break
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            heading = line.lstrip("#").strip()
        offset += len(line) + 1
    return heading


def test_recorded_section_is_the_heading_above_the_quote() -> None:
    wrong = []
    for q in QUESTIONS:
        text = CORPUS[q.file].decode("utf-8")
        if _heading_before(text, text.index(q.quote)) != q.section:
            wrong.append(q.id)
    assert wrong == []


def _words(text: str, n: int) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def test_questions_paraphrase_rather_than_copy_their_passage() -> None:
    copied = [q.id for q in QUESTIONS if _words(q.question, 5) & _words(q.quote, 5)]
    assert copied == []


def test_questions_file_is_one_json_object_per_line() -> None:
    lines = (EVAL_DIR / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    keys = {"id", "split", "question", "file", "section", "quote"}
    assert all(set(json.loads(line)) == keys for line in lines)


def test_corpus_ships_with_its_licence() -> None:
    licence = (EVAL_DIR / "CORPUS_LICENSE.txt").read_text(encoding="utf-8")
    assert "PostgreSQL Global Development Group" in licence
    assert "Permission to use, copy, modify, and distribute" in licence


@pytest.mark.skipif(not HTML.is_dir(), reason="postgresql-doc-15 is not installed")
def test_corpus_is_reproducible_from_the_html_documentation() -> None:
    assert set(build_corpus.PAGES) == {name.removesuffix(".md") for name in CORPUS}
    for name in build_corpus.PAGES:
        html = (HTML / f"{name}.html").read_text(encoding="utf-8")
        assert build_corpus.page_markdown(html) == CORPUS[f"{name}.md"].decode("utf-8")


# --- the harness against the real retrieval service -----------------------------------


async def test_citations_are_judged_in_the_same_offsets_as_the_gold(tmp_path: Path) -> None:
    """A hit judged relevant must really contain part of the gold quote: this breaks if
    citation offsets stop being offsets into the parsed text the gold spans use."""
    pages = ("bloom.md", "sql-truncate.md", "sql-lock.md")
    url = f"sqlite:///{tmp_path}/eval.db"
    migrate(url)
    engine = create_engine(url)
    try:
        service = RetrievalService(engine, HashingEmbedder())
        col = await service.create_collection("pg", chunk_tokens=64, chunk_overlap=8)
        await service.ingest(col.id, [SourceDocument(p, CORPUS[p]) for p in pages])
        texts = {p: parse(p, CORPUS[p]).text for p in pages}
        found = 0
        for q in (q for q in QUESTIONS if q.file in pages):
            gold = rag_eval.gold_span(q, texts[q.file])
            for hit in await service.search(col.id, q.question, k=10, mode="bm25"):
                c = hit.citation
                assert texts[c.source][c.start:c.end] == hit.text
                if gold.overlaps(c.source, c.start, c.end):
                    shared = texts[q.file][max(c.start, gold.start):min(c.end, gold.end)]
                    assert shared and shared in q.quote
                    found += 1
        assert found >= 3
    finally:
        await engine.dispose()
