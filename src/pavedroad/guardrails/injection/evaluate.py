"""Measure the injection detector on the labelled set in evals/injection.

    python -m pavedroad.guardrails.injection.evaluate evals/injection [--split test] [--threshold X]

Each example is a JSON line in `<dir>/sources/*.jsonl` with `text`, `label` (1 = attack),
`category`, `source` (user | retrieved | tool) and `origin`; benign prompts that look risky
carry `risky_benign: true`. The split is a pure function of the text (a SHA-256 bucket:
60% train, 20% dev, 20% test), so it never changes when examples are added elsewhere. Rows
marked `holdout: true` were collected after the detector was frozen and form their own split;
rows marked `external: true` come from a whole dataset the models never trained on (the
`external` split, evals/injection/build_eval.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pavedroad.guardrails.injection.detector import DEFAULT_THRESHOLD, INDIRECT_SOURCES, assess

SPLITS = ("train", "dev", "test", "holdout", "external")
DETECTORS = ("combined", "rules", "model", "semantic")  # which score is thresholded: all, or one


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: int
    category: str
    source: str
    origin: str
    risky_benign: bool
    holdout: bool = False  # added after the detector was frozen; never in train/dev/test
    external: bool = False  # from a dataset no model was trained on

    @property
    def split(self) -> str:
        if self.holdout or self.external:
            return "holdout" if self.holdout else "external"
        return split_of(self.text, self.source)


@dataclass(slots=True)
class Report:
    split: str
    threshold: float
    n_attacks: int = 0
    n_benign: int = 0
    n_risky_benign: int = 0
    true_pos: int = 0
    false_pos: int = 0
    false_pos_risky: int = 0
    per_category: dict[str, list[int]] = field(default_factory=dict)  # category -> [hit, total]
    per_origin: dict[str, list[int]] = field(default_factory=dict)  # origin -> [correct, total]
    # source -> [attacks caught, attacks, benign flagged, benign, risky flagged, risky]
    per_source: dict[str, list[int]] = field(default_factory=dict)
    latencies_us: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.true_pos / self.n_attacks if self.n_attacks else 0.0

    @property
    def precision(self) -> float:
        flagged = self.true_pos + self.false_pos
        return self.true_pos / flagged if flagged else 0.0

    @property
    def fpr_risky(self) -> float:
        return self.false_pos_risky / self.n_risky_benign if self.n_risky_benign else 0.0

    @property
    def fpr(self) -> float:
        return self.false_pos / self.n_benign if self.n_benign else 0.0

    def percentile_us(self, q: float) -> float:
        ordered = sorted(self.latencies_us)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def split_of(text: str, source: str) -> str:
    bucket = hashlib.sha256(f"{source}\x00{text}".encode()).digest()[0] / 256
    return "train" if bucket < 0.6 else "dev" if bucket < 0.8 else "test"


def load(directory: Path) -> list[Example]:
    examples: list[Example] = []
    for path in sorted((directory / "sources").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row: dict[str, Any] = json.loads(line)
            examples.append(
                Example(
                    text=row["text"], label=int(row["label"]), category=row["category"],
                    source=row.get("source", "user"), origin=row.get("origin", path.stem),
                    risky_benign=bool(row.get("risky_benign", False)),
                    holdout=bool(row.get("holdout", False)), external=bool(row.get("external", False)),
                )
            )
    return examples


def evaluate(examples: Iterable[Example], *, split: str, threshold: float, detector: str = "combined",
             deep: bool = False) -> Report:
    report = Report(split=split, threshold=threshold)
    deep = deep or detector == "semantic"
    assess("warm-up", deep=deep)  # keep one-off start-up costs out of the latency figures
    learned = detector != "rules"
    for ex in examples:
        if split not in ("all", ex.split):
            continue
        started = time.perf_counter()
        result = assess(ex.text, indirect=ex.source in INDIRECT_SOURCES, learned=learned, deep=deep)
        report.latencies_us.append((time.perf_counter() - started) * 1e6)
        score = {"rules": result.rule_score, "model": result.model_score,
                 "semantic": result.semantic_score}.get(detector, result.score)
        flagged = score >= threshold
        origin = report.per_origin.setdefault(ex.origin.split(":")[0], [0, 0])
        origin[1] += 1
        origin[0] += int(flagged == bool(ex.label))
        by_source = report.per_source.setdefault(ex.source, [0] * 6)
        slot = 0 if ex.label else 2
        by_source[slot] += int(flagged)
        by_source[slot + 1] += 1
        if not ex.label and ex.risky_benign:
            by_source[4] += int(flagged)
            by_source[5] += 1
        if ex.label:
            report.n_attacks += 1
            report.true_pos += int(flagged)
            cat = report.per_category.setdefault(f"{ex.category} ({ex.source})", [0, 0])
            cat[0] += int(flagged)
            cat[1] += 1
        else:
            report.n_benign += 1
            report.false_pos += int(flagged)
            if ex.risky_benign:
                report.n_risky_benign += 1
                report.false_pos_risky += int(flagged)
    return report


def sweep(examples: Sequence[Example], *, split: str, max_fpr: float = 0.05) -> float:
    """The threshold with the best recall whose risky-benign FPR stays within `max_fpr`."""
    best, best_recall = DEFAULT_THRESHOLD, -1.0
    for step in range(5, 96):
        threshold = step / 100
        report = evaluate(examples, split=split, threshold=threshold)
        if report.fpr_risky <= max_fpr and report.recall > best_recall:
            best, best_recall = threshold, report.recall
    return best


def render(report: Report) -> str:
    lines = [
        f"split={report.split} threshold={report.threshold:.2f} attacks={report.n_attacks} "
        f"benign={report.n_benign} (risky-looking {report.n_risky_benign})",
        "",
        "| metric | value |",
        "|---|---|",
        f"| precision | {report.precision:.3f} |",
        f"| recall | {report.recall:.3f} ({report.true_pos}/{report.n_attacks}) |",
        f"| FPR on risky-benign | {report.fpr_risky:.3f} "
        f"({report.false_pos_risky}/{report.n_risky_benign}) |",
        f"| FPR on all benign | {report.fpr:.3f} ({report.false_pos}/{report.n_benign}) |",
        f"| latency p50 / p99 per prompt | {report.percentile_us(0.5):.0f} µs / "
        f"{report.percentile_us(0.99):.0f} µs |",
        "",
        "| attack category (source) | recall |",
        "|---|---|",
    ]
    for name, (hit, total) in sorted(report.per_category.items()):
        lines.append(f"| {name} | {hit / total:.3f} ({hit}/{total}) |")
    lines += ["", "| source | precision | recall | FPR on risky-benign | FPR on all benign |",
              "|---|---|---|---|---|"]
    for name, (tp, att, fp, ben, fpr_r, risky) in sorted(report.per_source.items()):
        prec = f"{tp / (tp + fp):.3f}" if tp + fp else "-"
        lines.append(f"| {name} | {prec} | {_frac(tp, att)} | {_frac(fpr_r, risky)} | {_frac(fp, ben)} |")
    lines += ["", "| origin | accuracy |", "|---|---|"]
    for name, (ok, total) in sorted(report.per_origin.items()):
        lines.append(f"| {name} | {ok / total:.3f} ({ok}/{total}) |")
    return "\n".join(lines)


def _frac(hit: int, total: int) -> str:
    return f"{hit / total:.3f} ({hit}/{total})" if total else "-"


def summary(report: Report) -> dict[str, float]:
    return {
        "precision": round(report.precision, 4), "recall": round(report.recall, 4),
        "fpr_risky": round(report.fpr_risky, 4), "fpr": round(report.fpr, 4),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the prompt_injection guardrail.")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="test")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--detector", choices=DETECTORS, default="combined")
    parser.add_argument("--deep", action="store_true", help="add the sentence-embedding pass")
    parser.add_argument("--sweep", action="store_true", help="pick the threshold on --split")
    parser.add_argument("--json", action="store_true", help="print the headline numbers as JSON")
    args = parser.parse_args(argv)
    examples = load(args.directory)
    threshold = sweep(examples, split=args.split) if args.sweep else args.threshold
    report = evaluate(examples, split=args.split, threshold=threshold, detector=args.detector,
                      deep=args.deep)
    print(json.dumps(summary(report)) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
