"""Candidate run vs baseline run, case by case: the mean difference with a paired
bootstrap confidence interval, a Wilcoxon signed-rank test, and the regressed cases.

Both tests are paired because the same case is scored twice: pairing removes the spread
between easy and hard cases, which is most of the variance in an eval set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pavedroad.evals.summary import case_value
from pavedroad.store.evals import ResultRow

BOOTSTRAP_SAMPLES = 5000
DEFAULT_TOLERANCE = 0.05  # a drop in a case's value bigger than this is a regression


@dataclass(frozen=True, slots=True)
class CaseDelta:
    case_id: str
    base: float
    candidate: float
    base_passed: bool
    candidate_passed: bool

    @property
    def delta(self) -> float:
        return self.candidate - self.base

    def public(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "base": self.base, "candidate": self.candidate,
                "delta": self.delta, "base_passed": self.base_passed,
                "candidate_passed": self.candidate_passed}


@dataclass(frozen=True, slots=True)
class Comparison:
    base_run: str
    candidate_run: str
    metric: str  # `mean_score` or `score.<name>`
    paired: int
    base_mean: float
    candidate_mean: float
    mean_delta: float
    ci_low: float
    ci_high: float
    confidence: float
    wilcoxon_p: float
    regressed: list[CaseDelta] = field(default_factory=list)
    improved: list[CaseDelta] = field(default_factory=list)
    only_in_base: list[str] = field(default_factory=list)
    only_in_candidate: list[str] = field(default_factory=list)

    @property
    def significant_drop(self) -> bool:
        """The whole confidence interval lies below zero."""
        return self.ci_high < 0

    def public(self) -> dict[str, Any]:
        return {"base_run": self.base_run, "candidate_run": self.candidate_run,
                "metric": self.metric, "paired_cases": self.paired,
                "base_mean": self.base_mean, "candidate_mean": self.candidate_mean,
                "mean_delta": self.mean_delta,
                "ci": {"low": self.ci_low, "high": self.ci_high, "level": self.confidence},
                "wilcoxon_p": self.wilcoxon_p, "significant_drop": self.significant_drop,
                "regressed": [d.public() for d in self.regressed],
                "improved": [d.public() for d in self.improved],
                "only_in_base": self.only_in_base, "only_in_candidate": self.only_in_candidate}


def paired_bootstrap(deltas: np.ndarray, *, confidence: float = 0.95,
                     samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean difference, resampling cases with replacement."""
    if deltas.size == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, deltas.size, size=(samples, deltas.size))
    means = deltas[picks].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def wilcoxon_signed_rank(deltas: np.ndarray) -> float:
    """Two-sided p-value, normal approximation with tie correction; zero differences are
    dropped (Wilcoxon's convention). 1.0 when nothing differs."""
    nonzero = deltas[np.abs(deltas) > 1e-12]
    n = nonzero.size
    if n == 0:
        return 1.0
    magnitudes = np.abs(nonzero)
    order = np.argsort(magnitudes, kind="mergesort")
    ranks = np.empty(n)
    sorted_mag = magnitudes[order]
    i = 0
    tie_term = 0.0
    while i < n:  # average ranks over ties
        j = i
        while j + 1 < n and sorted_mag[j + 1] == sorted_mag[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j + 2) / 2
        size = j - i + 1
        tie_term += size ** 3 - size
        i = j + 1
    w_plus = float(ranks[nonzero > 0].sum())
    mean = n * (n + 1) / 4
    variance = n * (n + 1) * (2 * n + 1) / 24 - tie_term / 48
    if variance <= 0:
        return 1.0
    z = (w_plus - mean) / math.sqrt(variance)
    return float(math.erfc(abs(z) / math.sqrt(2)))


def compare_runs(base_run: str, base: Sequence[ResultRow], candidate_run: str,
                 candidate: Sequence[ResultRow], *, scorer: str | None = None,
                 tolerance: float = DEFAULT_TOLERANCE, confidence: float = 0.95) -> Comparison:
    """Pair cases by id; a case regressed when it passed before and fails now, or its value
    fell by more than `tolerance`."""
    by_id = {r.case_id: r for r in base}
    cand_by_id = {r.case_id: r for r in candidate}
    shared = sorted(set(by_id) & set(cand_by_id))
    deltas = [CaseDelta(cid, case_value(by_id[cid], scorer), case_value(cand_by_id[cid], scorer),
                        by_id[cid].passed, cand_by_id[cid].passed) for cid in shared]
    diffs = np.array([d.delta for d in deltas], dtype=float)
    low, high = paired_bootstrap(diffs, confidence=confidence)
    regressed = [d for d in deltas if (d.base_passed and not d.candidate_passed)
                 or d.delta < -tolerance]
    improved = [d for d in deltas if (d.candidate_passed and not d.base_passed)
                or d.delta > tolerance]
    base_values = [d.base for d in deltas]
    cand_values = [d.candidate for d in deltas]
    return Comparison(
        base_run, candidate_run, f"score.{scorer}" if scorer else "mean_score", len(deltas),
        float(np.mean(base_values)) if deltas else 0.0,
        float(np.mean(cand_values)) if deltas else 0.0,
        float(diffs.mean()) if deltas else 0.0, low, high, confidence,
        wilcoxon_signed_rank(diffs),
        sorted(regressed, key=lambda d: d.delta), sorted(improved, key=lambda d: -d.delta),
        sorted(set(by_id) - set(cand_by_id)), sorted(set(cand_by_id) - set(by_id)))
