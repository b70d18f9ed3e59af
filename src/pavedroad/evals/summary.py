"""A run's numbers: pass rates, mean scores, latency, cost, red-team block rates.

These named metrics are what gate files set thresholds on (docs/evals.md lists them).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pavedroad.store.evals import ResultRow

BLOCKED_SCORERS = ("redteam_blocked", "blocked")


def case_value(result: ResultRow, scorer: str | None = None) -> float:
    """One number per case: a scorer's value, or the mean over the case's scorers."""
    if scorer is not None:
        found = result.score(scorer)
        return float(found["value"]) if found else 0.0
    values = [float(s["value"]) for s in result.scores]
    return statistics.fmean(values) if values else 0.0


def blocked(result: ResultRow) -> bool | None:
    for name in BLOCKED_SCORERS:
        found = result.score(name)
        if found is not None:
            return bool(found["passed"])
    return None


@dataclass(frozen=True, slots=True)
class RunSummary:
    cases: int
    metrics: dict[str, float]
    block_rates: dict[str, float] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {"cases": self.cases, "metrics": self.metrics, "block_rates": self.block_rates}


def summarise(results: Sequence[ResultRow]) -> RunSummary:
    """`pass_rate`, `mean_score`, `error_rate`, `latency_p50_ms`, `latency_p95_ms`,
    `cost_usd_total`, and per scorer `score.<name>` (mean) and `pass_rate.<name>`."""
    metrics: dict[str, float] = {}
    if not results:
        return RunSummary(0, metrics)
    metrics["pass_rate"] = sum(r.passed for r in results) / len(results)
    metrics["mean_score"] = statistics.fmean(case_value(r) for r in results)
    metrics["error_rate"] = sum(int(r.output.get("status", 200)) >= 400
                                for r in results) / len(results)
    latencies = np.array([float(r.output.get("latency_ms", 0.0)) for r in results])
    metrics["latency_p50_ms"] = float(np.percentile(latencies, 50))
    metrics["latency_p95_ms"] = float(np.percentile(latencies, 95))
    metrics["cost_usd_total"] = sum(float(r.output.get("cost_usd") or 0.0) for r in results)
    by_scorer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        for score in result.scores:
            by_scorer[str(score["name"])].append(score)
    for name, scores in sorted(by_scorer.items()):
        metrics[f"score.{name}"] = statistics.fmean(float(s["value"]) for s in scores)
        metrics[f"pass_rate.{name}"] = sum(bool(s["passed"]) for s in scores) / len(scores)
    return RunSummary(len(results), metrics, block_rates(results))


def block_rates(results: Sequence[ResultRow]) -> dict[str, float]:
    """Per red-team category, the share of its cases a guardrail blocked."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for result in results:
        outcome = blocked(result)
        if result.category is None or outcome is None:
            continue
        counts[result.category][0] += int(outcome)
        counts[result.category][1] += 1
    return {category: hit / total for category, (hit, total) in sorted(counts.items())}
