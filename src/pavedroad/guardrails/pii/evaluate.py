"""Scores the fast pass on a labelled set: precision/recall/F1 per category and latency.

    python -m pavedroad.guardrails.pii.evaluate evals/pii [--split dev] [--write evals/pii/RESULTS.md]

A case is one JSON line: {"id", "source", "text", "spans": [{"start", "end", "category"}]},
optionally with "split" ("dev" or "test", fixed when the set is built, by a hash of the source
value). Cases with no split are the sets the detector was tuned on; they report as "tuned".
`--split` scores only the named splits, so the held-out test half can stay unread while the
detector is changed on dev.
A gold span counts as found when predicted spans of its category cover at least half of it;
a predicted span counts as correct when at least half of it lies in gold spans of its category.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pavedroad.guardrails.pii.guardrail import PiiGuardrail
from pavedroad.guardrails.pii.span import CATEGORIES, Span

PROMPT_CHARS = 2048
TUNED = "tuned"  # split of cases with none: the detector was developed while reading them


@dataclass
class Tally:
    gold: int = 0
    found: int = 0
    predicted: int = 0
    correct: int = 0
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_cases(directory: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            cases.extend(json.loads(line) for line in lines if line.strip())
    return cases


def split_of(case: dict[str, Any]) -> str:
    return str(case.get("split", TUNED))


def source_of(case: dict[str, Any]) -> str:
    """`independent:usaddress` stays whole (one row per project); `faker:en_US` becomes `faker`."""
    source = str(case["source"])
    return source if source.startswith("independent:") else source.split(":", maxsplit=1)[0]


def _covered(start: int, end: int, others: list[tuple[int, int]]) -> bool:
    inside = sum(max(0, min(end, b) - max(start, a)) for a, b in others)
    return inside * 2 >= end - start


def score(cases: list[dict[str, Any]], guardrail: PiiGuardrail) -> dict[str, Tally]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    for case in cases:
        text = case["text"]
        predicted = guardrail.spans(text)
        gold_by: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for g in case["spans"]:
            gold_by[g["category"]].append((g["start"], g["end"]))
        pred_by: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for p in predicted:
            pred_by[p.category].append((p.start, p.end))
        for category, spans in gold_by.items():
            tally = tallies[category]
            for start, end in spans:
                tally.gold += 1
                if _covered(start, end, pred_by[category]):
                    tally.found += 1
                else:
                    tally.misses.append(f"{case['id']}: {text[start:end]!r}")
        for p in predicted:
            tally = tallies[p.category]
            tally.predicted += 1
            if _covered(p.start, p.end, gold_by[p.category]):
                tally.correct += 1
            else:
                tally.false_alarms.append(f"{case['id']}: {text[p.start:p.end]!r}")
    return tallies


def prompts(cases: list[dict[str, Any]], size: int = PROMPT_CHARS) -> list[str]:
    """Consecutive cases joined into prompts of exactly `size` characters."""
    out, buffer = [], ""
    for case in cases:
        buffer += case["text"] + "\n\n"
        if len(buffer) >= size:
            out.append(buffer[:size])
            buffer = ""
    return out


def latency_ms(texts: list[str], guardrail: PiiGuardrail, *, rounds: int = 5) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            guardrail.spans(text)
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def report(tallies: dict[str, Tally], p50: float, p99: float, n_cases: int, n_prompts: int) -> str:
    lines = [
        f"cases: {n_cases}; 2 KB prompts timed: {n_prompts}",
        "",
        "| category | gold | predicted | precision | recall | F1 |",
        "|---|---|---|---|---|---|",
    ]
    for category in [*CATEGORIES, *sorted(set(tallies) - set(CATEGORIES))]:
        if category in tallies:
            t = tallies[category]
            lines.append(f"| {category} | {t.gold} | {t.predicted} | {t.precision:.3f} | {t.recall:.3f} "
                         f"| {t.f1:.3f} |")  # fmt: skip
    lines += ["", f"fast pass latency per 2 KB prompt: p50 {p50:.3f} ms, p99 {p99:.3f} ms"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--write", type=Path, help="also write the table to this Markdown file")
    parser.add_argument("--errors", action="store_true", help="list misses and false alarms")
    parser.add_argument("--split", action="append", choices=[TUNED, "dev", "test"],
                        help="score only these splits (repeatable); default all")  # fmt: skip
    args = parser.parse_args(argv)
    cases = load_cases(args.directory)
    if args.split:
        cases = [c for c in cases if split_of(c) in args.split]
    guardrail = PiiGuardrail()
    tallies = score(cases, guardrail)
    texts = prompts(cases)
    p50, p99 = latency_ms(texts, guardrail)
    text = report(tallies, p50, p99, len(cases), len(texts))
    for label, key in (("split", split_of), ("source", source_of)):
        for value in sorted({key(c) for c in cases}):
            subset = [c for c in cases if key(c) == value]
            table = report(score(subset, guardrail), p50, p99, len(subset), 0).split("\n\n")[1]
            text += f"\n\n{label} `{value}` only ({len(subset)} cases):\n\n{table}"
    print(text)
    if args.errors:
        for category, t in sorted(tallies.items()):
            for line in t.misses:
                print(f"MISS {category} {line}")
            for line in t.false_alarms:
                print(f"FALSE {category} {line}")
    if args.write:
        args.write.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

__all__ = ["Span", "Tally", "load_cases", "prompts", "score", "source_of", "split_of"]
