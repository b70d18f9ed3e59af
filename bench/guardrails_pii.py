"""Latency of the `pii` guardrail's fast pass on 2 KB prompts (the input-guardrail budget).

    .venv/bin/python bench/guardrails_pii.py [--rounds 20] [--pin CPU]

Prompts are 2,048-character windows of the labelled set in evals/pii (dense in PII: the
worst case for the detectors) plus 2 KB of plain prose with no PII. Reports p50/p99 for the
scan alone and for scan + placeholder redaction, against the issue's 2 ms p50 target. If
the `phonenumbers` package happens to be installed, also times its matcher on the same
prompts (the reason the phone validator is our own).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from pavedroad.guardrails.base import ScanContext
from pavedroad.guardrails.pii import PiiGuardrail
from pavedroad.guardrails.pii.evaluate import load_cases, prompts
from pavedroad.guardrails.redact import placeholders

ROOT = Path(__file__).resolve().parents[1]
TARGET_P50_MS = 2.0
PROSE = (
    "The committee met on Tuesday to review the quarterly roadmap. Most of the discussion was "
    "about the migration to the new build system, the documentation backlog and the hiring "
    "plan for the second half of the year. Several people asked for clearer ownership of the "
    "release process, and the group agreed to revisit the question at the next meeting. "
)


def timed(fn: Callable[[str], object], texts: list[str], rounds: int) -> tuple[float, float]:
    for text in texts[:5]:
        fn(text)  # warm the regex caches
    samples = []
    gc.disable()
    try:
        for _ in range(rounds):
            for text in texts:
                start = time.perf_counter_ns()
                fn(text)
                samples.append((time.perf_counter_ns() - start) / 1e6)
    finally:
        gc.enable()
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description="pii fast-pass latency on 2 KB prompts")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pin", type=int, help="pin this process to one CPU")
    args = parser.parse_args()
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})
    dense = prompts(load_cases(ROOT / "evals" / "pii"))
    prose = [(PROSE * 8)[:2048]]
    guardrail = PiiGuardrail()
    context = ScanContext(direction="input")

    def scan(text: str) -> object:
        return guardrail.scan(text, context)

    def scan_and_redact(text: str) -> object:
        return placeholders(text, guardrail.scan(text, context))

    rows = [
        ("scan, PII-dense 2 KB", timed(scan, dense, args.rounds), len(dense)),
        ("scan + placeholders, PII-dense 2 KB", timed(scan_and_redact, dense, args.rounds), len(dense)),
        ("scan, plain prose 2 KB", timed(scan, prose, args.rounds * 20), 1),
    ]
    try:
        phonenumbers = importlib.import_module("phonenumbers")
    except ImportError:
        phonenumbers = None
    if phonenumbers is not None:

        def matcher(text: str) -> object:
            return list(phonenumbers.PhoneNumberMatcher(text, "US"))

        label = "phonenumbers.PhoneNumberMatcher alone (not used)"
        rows.append((label, timed(matcher, dense, 3), len(dense)))
    print("| measurement | prompts | p50 ms | p99 ms |\n|---|---|---|---|")
    for label, (p50, p99), n in rows:
        print(f"| {label} | {n} | {p50:.3f} | {p99:.3f} |")
    p50 = rows[0][1][0]
    verdict = "PASS" if p50 <= TARGET_P50_MS else "FAIL"
    print(f"\ntarget: fast pass <= {TARGET_P50_MS} ms p50 per 2 KB prompt: {verdict} ({p50:.3f} ms)")


if __name__ == "__main__":
    main()
