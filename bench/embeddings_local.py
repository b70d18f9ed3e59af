"""Local embedding and grounded-answer costs on this machine (docs/adr/0015).

Run pinned to one core, as the RESULTS.md rows were:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c 1 .venv/bin/python bench/embeddings_local.py

Prints Markdown rows: short sentences/s, ~200-token chunks/s, query latency, and the
grounded composer's time per answer over five of the handbook's passages.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from pavedroad.rag.embedding_local import MiniLMEmbedder
from pavedroad.rag.grounded import compose
from pavedroad.rag.types import Citation, Hit

ROOT = Path(__file__).resolve().parent.parent


def _texts() -> tuple[list[str], list[str]]:
    prose = " ".join(p.read_text() for p in sorted((ROOT / "docs" / "adr").glob("*.md")))
    lines = [line.strip() for line in prose.splitlines() if len(line.strip()) > 40]
    words = prose.split()
    chunks = [" ".join(words[i:i + 150]) for i in range(0, min(len(words), 150 * 32), 150)]
    return lines[:128], chunks


def main() -> None:
    sentences, chunks = _texts()
    model = MiniLMEmbedder(cache_size=0)
    model.embed_sync(sentences[:4])  # warm-up
    started = time.perf_counter()
    model.embed_sync(sentences)
    per_sentence = len(sentences) / (time.perf_counter() - started)
    started = time.perf_counter()
    model.embed_sync(chunks)
    per_chunk = len(chunks) / (time.perf_counter() - started)
    latencies = []
    for text in sentences[:30]:
        started = time.perf_counter()
        model.embed_sync([text + " ?"])
        latencies.append((time.perf_counter() - started) * 1000)
    hits = [Hit(f"chk_{i}", chunk, 1.0, Citation("handbook", "doc", "a.md", "A", "A", 0, 1))
            for i, chunk in enumerate(chunks[:5])]
    composed = []
    for text in sentences[:50]:
        started = time.perf_counter()
        compose(text, hits, collection="handbook")
        composed.append((time.perf_counter() - started) * 1000)
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}")
    print("| measure | value |")
    print("|---|---:|")
    print(f"| MiniLM-L6 (numpy), short sentences/s | {per_sentence:.1f} |")
    print(f"| MiniLM-L6 (numpy), ~200-token chunks/s | {per_chunk:.2f} |")
    print(f"| MiniLM-L6 (numpy), one query p50 / max ms | {statistics.median(latencies):.1f} / "
          f"{max(latencies):.1f} |")
    print(f"| grounded composer, 5 passages, p50 ms | {statistics.median(composed):.2f} |")


if __name__ == "__main__":
    main()
