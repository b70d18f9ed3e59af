"""Retrieval at scale on the embedded default: ingest >= 100,000 chunks into SQLite through
the real service (parse, chunk, embed, store), then time searches.

Synthetic Markdown from a Zipf-distributed vocabulary of made-up words; the hashing
embedder (no model weights), so the run takes minutes on one core. Reports ingestion
throughput, index build and snapshot load times, and p50/p95/p99 per search mode
(k = 10, no reranker), measured through `RetrievalService.search` (query embedding,
index, fusion, hits) as the API calls it. With the `onnx` extra installed, a last row adds
what a bge-small query embedding (`auto`'s embedder then) costs on top of each hybrid
search: embedding 100,000 chunks with it would take over half an hour, so the collection
stays hashed and the query side is timed query by query.

    taskset -c 0 .venv/bin/python bench/rag_scale.py --chunks 100000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from pavedroad.rag import embedding_onnx
from pavedroad.rag.hashing_embedder import HashingEmbedder
from pavedroad.rag.ingest import SourceDocument
from pavedroad.rag.service import RetrievalService
from pavedroad.rag.snapshot import snapshot_dir_for
from pavedroad.store.database import create_engine, migrate

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "zen", "por", "dal", "fir",
             "gum", "hex", "jol", "qua", "wyn", "bri", "cla", "dro"]
SECTIONS = 10  # chunks per document: one per section


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def documents(count: int, words: list[str], rng: random.Random) -> list[SourceDocument]:
    weights = [1.0 / (rank + 1) for rank in range(len(words))]  # Zipf
    out = []
    for i in range(count):
        parts = [f"# Document {i}\n"]
        for j in range(SECTIONS):
            body = " ".join(rng.choices(words, weights, k=rng.randint(60, 110)))
            parts.append(f"## Section {j}\n\n{body}.\n")
        out.append(SourceDocument(f"corpus/doc{i:06d}.md", "\n".join(parts),
                                  metadata={"shard": str(i % 8)}))
    return out


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return at(0.5), at(0.95), at(0.99)


async def time_searches(service: RetrievalService, collection_id: str, sources: list[str],
                        texts: list[str]) -> list[float]:
    """Print p50/p95/p99 per mode; `sources[i]` is the chunk query `texts[i]` came from.
    Returns the hybrid samples (ms), in query order."""
    hybrid: list[float] = []
    print("| mode (k = 10) | p50 ms | p95 ms | p99 ms | source chunk in top 10 |")
    print("|---|---:|---:|---:|---:|")
    for mode in ("hybrid", "bm25", "vector"):
        for text in texts[:20]:
            await service.search(collection_id, text, k=10, mode=mode)  # type: ignore[arg-type]
        samples, found = [], 0
        for source, text in zip(sources, texts, strict=True):
            started = time.perf_counter()
            hits = await service.search(collection_id, text, k=10, mode=mode)  # type: ignore[arg-type]
            samples.append((time.perf_counter() - started) * 1000)
            found += any(h.chunk_id == source for h in hits)
        p50, p95, p99 = percentiles(samples)
        print(f"| {mode} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {found / len(texts):.0%} |")
        hybrid = samples if mode == "hybrid" else hybrid
    filtered = []
    for text in texts[:100]:
        started = time.perf_counter()
        await service.search(collection_id, text, k=10, filters={"shard": "3"})
        filtered.append((time.perf_counter() - started) * 1000)
    print(f"| hybrid, filter on a metadata field | {statistics.median(filtered):.1f} | "
          f"{percentiles(filtered)[1]:.1f} | {percentiles(filtered)[2]:.1f} | - |")
    return hybrid


async def time_bge_queries(texts: list[str], hybrid: list[float]) -> None:
    """Each query's bge-small embedding time added to its hybrid search time."""
    model = embedding_onnx.BgeEmbedder(cache_size=0)
    for text in texts[:20]:
        model.embed_queries_sync([text])  # warm-up
    embedding = []
    for text in texts:
        started = time.perf_counter()
        model.embed_queries_sync([text])
        embedding.append((time.perf_counter() - started) * 1000)
    p50, p95, p99 = percentiles(embedding)
    print(f"| bge-small query embedding alone | {p50:.1f} | {p95:.1f} | {p99:.1f} | - |")
    p50, p95, p99 = percentiles([s + e for s, e in zip(hybrid, embedding, strict=True)])
    print(f"| hybrid + bge-small query embedding | {p50:.1f} | {p95:.1f} | {p99:.1f} | - |")


async def run(chunks: int, queries: int, folder: Path, store_url: str | None = None) -> None:
    url = store_url or f"sqlite:///{folder}/rag.db"
    migrate(url)
    engine = create_engine(url)
    rng = random.Random(7)
    words = vocabulary(30_000, rng)
    docs = documents(-(-chunks // SECTIONS), words, rng)
    service = RetrievalService(engine, HashingEmbedder(), snapshot_dir=snapshot_dir_for(url))
    collection = await service.create_collection("scale", chunk_tokens=256, chunk_overlap=32)

    started = time.perf_counter()
    report = await service.ingest(collection.id, docs)
    ingest_s = time.perf_counter() - started
    db_mb = (folder / "rag.db").stat().st_size / 2**20 if store_url is None else 0.0
    pgvector = await service.pgvector()

    started = time.perf_counter()
    await service.search(collection.id, "warm up", k=10)  # loads and builds the index
    build_s = time.perf_counter() - started
    fresh = RetrievalService(engine, HashingEmbedder(), snapshot_dir=snapshot_dir_for(url))
    started = time.perf_counter()
    await fresh.search(collection.id, "warm up", k=10)  # a restart: loads the snapshot
    snapshot_s = time.perf_counter() - started

    index = await service.indexes.get(await service.collection(collection.id))
    picks = [rng.randrange(len(index.chunks)) for _ in range(queries)]
    texts = []
    for row in picks:
        body = index.chunks[row].text.split("\n\n")[-1].split()
        start = rng.randrange(max(1, len(body) - 5))
        texts.append(" ".join(body[start:start + rng.randint(3, 5)]))

    print(f"## Retrieval at scale, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(f"{report.chunks:,} chunks from {report.added:,} Markdown documents (synthetic, "
          f"Zipf vocabulary of 30,000 words, 60-110 words per chunk), hashing embedder "
          f"({service.embedder.dimensions}-d), "
          f"{'PostgreSQL + pgvector HNSW' if pgvector else 'SQLite, in-process indexes'}; "
          "one pinned core.\n")
    print("| step | result |\n|---|---:|")
    print(f"| ingest (parse, chunk, embed, store) | {ingest_s:.1f} s = "
          f"{report.chunks / ingest_s:,.0f} chunks/s |")
    if db_mb:
        print(f"| store size | {db_mb:,.0f} MB |")
    print(f"| first search: load from the store + build the index + snapshot | {build_s:.1f} s |")
    again = "load the snapshot" if store_url is None else "rebuild (no snapshots on a server)"
    print(f"| first search after a restart: {again} | {snapshot_s:.1f} s |\n")
    hybrid = await time_searches(service, collection.id,
                                 [index.chunks[r].chunk_id for r in picks], texts)
    if embedding_onnx.available():
        await time_bge_queries(texts, hybrid)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--dir", type=Path, default=None, help="Keep the store here.")
    parser.add_argument("--store-url", default=None,
                        help="A PostgreSQL URL instead of SQLite (pgvector when it has it).")
    args = parser.parse_args()
    if args.store_url is not None:
        with tempfile.TemporaryDirectory(prefix="rag-scale-") as folder:
            asyncio.run(run(args.chunks, args.queries, Path(folder), args.store_url))
        return
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(run(args.chunks, args.queries, args.dir))
        return
    with tempfile.TemporaryDirectory(prefix="rag-scale-") as folder:
        asyncio.run(run(args.chunks, args.queries, Path(folder)))


if __name__ == "__main__":
    main()
