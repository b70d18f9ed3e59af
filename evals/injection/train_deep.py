"""Build the deep (sentence-embedding) pass of the prompt_injection detector; choose it by CV.

    taskset -c 1 python evals/injection/train_deep.py [--write] [--report cv.md]
        [--embedding-cache emb.npz] [--ngram-oof oof.json]

Same training pool, augmentation and leave-one-source-out folds as train.py (the holdout is
never loaded). The deep pass scores a window by the mean cosine similarity of its k nearest
training attack windows minus that of its k nearest benign windows (MiniLM embeddings). Every
choice — k, whether the n-gram model stays in the combination, and the margin offset — is made
on out-of-fold scores: for each author group, reference windows from the other groups score it.
The offset is the lowest margin at which the combination keeps risky-benign FPR <= 0.04; the
n-gram flags are the n-gram model's own out-of-fold flags at its shipped offset
(train.cross_validate, or a cached copy of its logits). The shipped reference set is then built
from the whole pool. Needs the `embeddings` extra.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import train
from train import GROUPS, SEED, STDLIB_DOCS, Row, augment, load_pool, stdlib_documents

from pavedroad.guardrails.injection import model, normalize, semantic
from pavedroad.guardrails.injection.detector import assess
from pavedroad.rag.embedding_local import MiniLMEmbedder

MAX_RISKY_FPR = 0.04  # as train.py: room under the 0.05 target for sampling noise
K_GRID = (10, 15, 30, 50)
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]


class EmbeddingCache:
    """Window embeddings by text; optionally kept on disk between runs."""

    def __init__(self, path: Path | None = None) -> None:
        self.embedder = MiniLMEmbedder(cache_size=0)
        self.vectors: dict[str, F32] = {}
        self.path = path
        if path is not None and path.exists():
            with np.load(path) as data:
                self.vectors = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))

    def save(self) -> None:
        if self.path is not None:
            texts = sorted(self.vectors)
            np.savez(self.path, texts=np.array(texts), vectors=np.stack([self.vectors[t] for t in texts]))

    def windows_of(self, rows: Sequence[Row]) -> tuple[F32, npt.NDArray[np.int64]]:
        """Every window of every row (the windows the runtime scores) and its row index."""
        texts: list[str] = []
        owners: list[int] = []
        for i, row in enumerate(rows):
            _, decoded = normalize.views(row.text)
            parts = semantic.windows(row.text) + [w for d in decoded for w in semantic.windows(d)]
            texts += parts
            owners += [i] * len(parts)
        todo = sorted({t for t in texts if t not in self.vectors})
        for start in range(0, len(todo), 256):
            chunk = todo[start:start + 256]
            for text, vec in zip(chunk, self.embedder.embed_sync(chunk), strict=True):
                self.vectors[text] = vec
        return np.stack([self.vectors[t] for t in texts]), np.array(owners, dtype=np.int64)


def training_rows(rows: Sequence[Row], payloads: Sequence[Row]) -> list[Row]:
    rng = random.Random(SEED)  # the same stdlib sample and augmentation as train.train
    data = list(rows) + stdlib_documents(STDLIB_DOCS, rng)
    return data + augment(data, payloads, rng)


def reference(emb: F32, owners: npt.NDArray[np.int64], rows: Sequence[Row], k: int) -> semantic.SemanticModel:
    labels = np.array([rows[i].label for i in owners])
    return semantic.SemanticModel(attacks=emb[labels == 1], benign=emb[labels == 0], k=k, offset=0.0)


def best_margins(m: semantic.SemanticModel, emb: F32, owners: npt.NDArray[np.int64], n: int) -> F64:
    out = np.full(n, -np.inf)
    np.maximum.at(out, owners, m.margins(emb))
    return out


def cross_validate(pool: Sequence[Row], payloads: Sequence[Row], cache: EmbeddingCache) -> dict[int, F64]:
    out = {k: np.zeros(len(pool)) for k in K_GRID}
    for group in GROUPS:
        data = training_rows([r for r in pool if r.group != group], payloads)
        emb, owners = cache.windows_of(data)
        held = [i for i, r in enumerate(pool) if r.group == group]
        h_emb, h_owners = cache.windows_of([pool[i] for i in held])
        for k in K_GRID:
            out[k][held] = best_margins(reference(emb, owners, data, k), h_emb, h_owners, len(held))
        print(f"fold {group}: {len(data)} reference rows ({len(owners)} windows)", flush=True)
    return out


def choose_offset(margins: F64, base: Flags, risky: Flags) -> float:
    """The lowest margin at which base-or-deep keeps risky-benign FPR within MAX_RISKY_FPR."""
    for offset in np.arange(-0.3, 0.5, 0.0005):
        if (base | (margins >= offset))[risky].mean() <= MAX_RISKY_FPR:
            return round(float(offset), 4)
    return 0.5


def _frac(hits: Sequence[bool]) -> str:
    return f"{sum(hits) / len(hits):.3f} ({sum(hits)}/{len(hits)})" if hits else "-"


def report(pool: Sequence[Row], flags: dict[str, Flags]) -> str:
    names = list(flags)
    lines = ["| held-out group | detector | attacks caught | risky-benign flagged | other benign flagged |",
             "|---|---|---|---|---|"]
    for group in GROUPS:
        for name in names:
            rows = [(bool(h), r) for h, r in zip(flags[name], pool, strict=True) if r.group == group]
            att = [h for h, r in rows if r.label == 1]
            risky = [h for h, r in rows if r.label == 0 and r.risky_benign]
            other = [h for h, r in rows if r.label == 0 and not r.risky_benign]
            lines.append(f"| {group} | {name} | {_frac(att)} | {_frac(risky)} | {_frac(other)} |")
    lines += ["", "| category (source), out-of-fold | " + " | ".join(names) + " |",
              "|---|" + "---|" * len(names)]
    cats: dict[str, list[int]] = {}
    for i, r in enumerate(pool):
        if r.label == 1:
            cats.setdefault(f"{r.category} ({r.source})", []).append(i)
    for cat, idx in sorted(cats.items()):
        cells = " | ".join(_frac([bool(flags[n][i]) for i in idx]) for n in names)
        lines.append(f"| {cat} | {cells} |")
    return "\n".join(lines)


def _ngram_oof(pool: Sequence[Row], payloads: Sequence[Row], cached: Path | None) -> list[float]:
    if cached is None:
        return train.cross_validate(pool, payloads)
    data = json.loads(cached.read_text(encoding="utf-8"))
    if data["texts"] != [r.text for r in pool]:
        raise SystemExit(f"{cached} was computed on a different pool")
    return [float(z) for z in data["logits"]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the prompt_injection deep pass.")
    parser.add_argument("--write", action="store_true", help=f"write {semantic.WEIGHTS_PATH.name}")
    parser.add_argument("--report", type=Path, help="write the cross-validation tables here")
    parser.add_argument("--embedding-cache", type=Path, help="reuse window embeddings (.npz)")
    parser.add_argument("--ngram-oof", type=Path, help="cached n-gram out-of-fold logits (JSON)")
    args = parser.parse_args(argv)
    pool, payloads = load_pool()
    cache = EmbeddingCache(args.embedding_cache)
    shipped = model.shipped()
    if shipped is None:
        raise SystemExit("the n-gram model's weights are missing")
    rules = np.array([assess(r.text, indirect=r.indirect, learned=False).score >= 0.5 for r in pool])
    ngram = np.array(_ngram_oof(pool, payloads, args.ngram_oof)) >= shipped.offset
    risky = np.array([r.label == 0 and r.risky_benign for r in pool])
    attacks = np.array([r.label == 1 for r in pool])
    oof = cross_validate(pool, payloads, cache)
    cache.save()
    scored: list[tuple[float, int, str, float]] = []
    for k in K_GRID:
        for combination, base in (("rules+deep", rules), ("rules+ngram+deep", rules | ngram)):
            offset = choose_offset(oof[k], base, risky)
            both = base | (oof[k] >= offset)
            print(f"k={k} {combination}: recall {_frac(list(both[attacks]))}, "
                  f"risky FPR {_frac(list(both[risky]))}, offset {offset:.4f}")
            scored.append((float(both[attacks].mean()), k, combination, offset))
    recall, k, combination, offset = max(scored, key=lambda s: s[0])
    base = rules | ngram if combination == "rules+ngram+deep" else rules
    alone = oof[k] >= choose_offset(oof[k], np.zeros(len(pool), dtype=bool), risky)
    flags = {"rules": rules, "ngram": ngram, "deep alone": alone, "rules+ngram": rules | ngram,
             combination: base | (oof[k] >= offset)}
    head = f"chosen: k={k} {combination} offset={offset:.4f} out-of-fold recall={recall:.3f}"
    table = report(pool, flags)
    print(f"\n{head}\n\n{table}")
    if args.report:
        args.report.write_text(f"{head}\n\n{table}\n", encoding="utf-8")
    if args.write:
        if combination != "rules+deep":
            raise SystemExit("the detector combines rules and the deep pass only; update detector.py")
        data = training_rows(pool, payloads)
        emb, owners = cache.windows_of(data)
        final = reference(emb, owners, data, k)
        semantic.SemanticModel(final.attacks, final.benign, k, offset).save(semantic.WEIGHTS_PATH)
        cache.save()
        print(f"wrote {semantic.WEIGHTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
