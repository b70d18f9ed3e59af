"""What the bundled ONNX models cost on this machine (docs/adr/0023): bge-small per chunk and
per query, the cross-encoder per search at the product's rerank depth, and `pavedroad up`'s
handbook ingestion with the embedder `auto` picks.

    taskset -c 0 .venv/bin/python bench/rag_onnx.py [--minilm]

Prints Markdown rows. The chunks are the handbook's own (this repository's docs, chunked as
`pavedroad up` chunks them); queries are the first sentences of other chunks. `--minilm`
also times the handbook ingestion with the numpy MiniLM, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from pavedroad.config.loader import load_settings
from pavedroad.rag.embedding_onnx import BgeEmbedder
from pavedroad.rag.hashing_embedder import HashingEmbedder
from pavedroad.rag.rerank_onnx import CrossEncoderReranker
from pavedroad.rag.service import RERANK_CANDIDATES, RetrievalService
from pavedroad.rag.types import Citation, Hit
from pavedroad.service.handbook import handbook_documents, ingest_handbook, seed_handbook
from pavedroad.store.database import create_engine, migrate

ROOT = Path(__file__).resolve().parents[1]


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.1f} / {p99:.1f}"


async def _handbook_chunks(folder: Path) -> list[str]:
    """The handbook's chunks, as ingestion makes them (tiny hashing vectors: only the text
    is used)."""
    url = f"sqlite:///{folder}/chunks.db"
    migrate(url)
    engine = create_engine(url)
    try:
        service = RetrievalService(engine, HashingEmbedder(8))
        await ingest_handbook(service, ROOT)
        record = await service.collection("handbook")
        index = await service.indexes.get(record)
        return [c.text for c in index.chunks]
    finally:
        await engine.dispose()


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def _ingest(embedder: str, folder: Path) -> tuple[float, float]:
    """Seconds of `pavedroad up`'s handbook seeding: the first start, then a second."""
    env = {"PAVEDROAD_STORE_URL": f"sqlite:///{folder}/{embedder}.db",
           "PAVEDROAD_EMBEDDER": embedder}
    settings = load_settings(None, env=env)
    times, unchanged = [], 0
    for _ in range(2):
        started = time.perf_counter()
        report = seed_handbook(settings, root=ROOT, progress=lambda _: None)
        times.append(time.perf_counter() - started)
        assert report is not None and not report.failed, report
        unchanged = report.unchanged
    assert unchanged == len(handbook_documents(ROOT))  # the second start embedded nothing
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minilm", action="store_true", help="also ingest with MiniLM")
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rag-onnx-") as tmp:
        folder = Path(tmp)
        chunks = asyncio.run(_handbook_chunks(folder))
        queries = [c.split(". ")[0][:200] for c in chunks[1::7]][:args.queries]
        bge = BgeEmbedder(cache_size=0)
        bge.embed_sync(chunks[:3])  # warm-up
        per_chunk = [_timed(partial(bge.embed_sync, [c])) for c in chunks[:100]]
        per_query = [_timed(partial(bge.embed_queries_sync, [q])) for q in queries]
        reranker = CrossEncoderReranker()
        depth = RERANK_CANDIDATES
        hits = [Hit(f"chk_{i}", c, 1.0 - i / depth, Citation("handbook", "d", "a.md", "A", "A",
                                                             0, 1))
                for i, c in enumerate(chunks[:depth])]
        reranker.rerank_sync(queries[0], hits[:2])  # warm-up
        per_search = []
        for i, q in enumerate(queries):
            window = [*chunks[i:], *chunks[:i]][:depth]
            batch = [Hit(h.chunk_id, t, h.score, h.citation)
                     for h, t in zip(hits, window, strict=True)]
            per_search.append(_timed(partial(reranker.rerank_sync, q, batch)))
        first, second = _ingest("auto", folder)
        minilm = _ingest("local", folder) if args.minilm else None
    docs = len(handbook_documents(ROOT))
    print(f"load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{len(chunks)} handbook chunks from {docs} documents\n")
    print("| measure | p50 / p99 ms |\n|---|---:|")
    print(f"| bge-small, one handbook chunk (<= 256 tokens + headers) | {_ms(per_chunk)} |")
    print(f"| bge-small, one query (with the instruction) | {_ms(per_query)} |")
    print(f"| cross-encoder rerank of one search, {depth} candidates | {_ms(per_search)} |")
    print(f"| ... per candidate | {statistics.median(per_search) / depth:.1f} |\n")
    print("| `pavedroad up` handbook ingestion | first start s | second start s |")
    print("|---|---:|---:|")
    print(f"| auto (bge-small) | {first:.1f} | {second:.2f} |")
    if minilm is not None:
        print(f"| local (MiniLM, numpy) | {minilm[0]:.1f} | {minilm[1]:.2f} |")


if __name__ == "__main__":
    main()
