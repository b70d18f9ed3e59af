"""Release gates: a YAML file of metric thresholds, allowed regressions against a baseline,
and required red-team block rates, checked against stored runs (docs/evals.md).

Every failed check becomes one readable reason; the CLI prints them and exits non-zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pavedroad.core.errors import EvalConfigInvalid
from pavedroad.evals.compare import DEFAULT_TOLERANCE, Comparison
from pavedroad.evals.suite import check_keys, read_yaml
from pavedroad.evals.summary import RunSummary

_KEYS = {"name", "metrics", "regression", "redteam"}
_REGRESSION = {"max_regressed_cases", "max_mean_drop", "fail_on_significant_drop", "scorer",
               "tolerance"}
_METRIC = re.compile(r"^(pass_rate|mean_score|error_rate|latency_p50_ms|latency_p95_ms|"
                     r"cost_usd_total|score\.[\w.-]+|pass_rate\.[\w.-]+)$")


@dataclass(frozen=True, slots=True)
class Bound:
    metric: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class Gate:
    name: str
    bounds: list[Bound] = field(default_factory=list)
    regression: Mapping[str, Any] | None = None
    min_block_rate: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GateVerdict:
    gate: str
    passed: bool
    reasons: list[str]
    checks: int

    def public(self) -> dict[str, Any]:
        return {"gate": self.gate, "passed": self.passed, "reasons": self.reasons,
                "checks": self.checks}


def _number(value: Any, where: str, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EvalConfigInvalid(f"{where}: `{param}` must be a number", param=param)
    return float(value)


def _bounds(raw: Any, where: str) -> list[Bound]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise EvalConfigInvalid(f"{where}: `metrics` maps a metric to {{min: x}} or {{max: x}}",
                                param="metrics")
    bounds = []
    for metric, limits in raw.items():
        if not _METRIC.match(str(metric)):
            raise EvalConfigInvalid(f"{where}: unknown metric {metric!r} (see docs/evals.md: "
                                    "pass_rate, mean_score, score.<scorer>, …)", param="metrics")
        if not isinstance(limits, Mapping) or not limits or set(limits) - {"min", "max"}:
            raise EvalConfigInvalid(f"{where}: metric {metric!r} needs `min` and/or `max`",
                                    param="metrics")
        bounds.append(Bound(str(metric),
                            _number(limits["min"], where, "min") if "min" in limits else None,
                            _number(limits["max"], where, "max") if "max" in limits else None))
    return bounds


def parse_gate(data: Any, where: str = "gate") -> Gate:
    if not isinstance(data, Mapping):
        raise EvalConfigInvalid(f"{where}: a gate is a mapping with name and metrics, "
                                "regression and/or redteam")
    check_keys(data, _KEYS, where)
    regression = data.get("regression")
    if regression is not None and (not isinstance(regression, Mapping)
                                   or set(regression) - _REGRESSION):
        raise EvalConfigInvalid(f"{where}: `regression` may set "
                                f"{', '.join(sorted(_REGRESSION))}", param="regression")
    redteam = data.get("redteam") or {}
    rates = redteam.get("min_block_rate", {}) if isinstance(redteam, Mapping) else None
    if not isinstance(rates, Mapping) or (isinstance(redteam, Mapping)
                                          and set(redteam) - {"min_block_rate"}):
        raise EvalConfigInvalid(f"{where}: `redteam` is {{min_block_rate: {{category: rate}}}}",
                                param="redteam")
    gate = Gate(str(data.get("name") or "gate"), _bounds(data.get("metrics"), where),
                dict(regression) if regression is not None else None,
                {str(k): _number(v, where, f"min_block_rate.{k}") for k, v in rates.items()})
    if not gate.bounds and gate.regression is None and not gate.min_block_rate:
        raise EvalConfigInvalid(f"{where}: the gate checks nothing; set metrics, regression "
                                "or redteam")
    return gate


def load_gate(path: Path) -> Gate:
    return parse_gate(read_yaml(path), str(path))


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def check_gate(gate: Gate, summary: RunSummary, comparison: Comparison | None = None
               ) -> GateVerdict:
    """Every check of `gate` on a run's summary (and its comparison with a baseline)."""
    reasons: list[str] = []
    checks = 0
    for bound in gate.bounds:
        checks += 1
        value = summary.metrics.get(bound.metric)
        if value is None:
            reasons.append(f"{bound.metric}: not measured in this run (no such scorer?)")
            continue
        if bound.min is not None and value < bound.min:
            reasons.append(f"{bound.metric} = {_fmt(value)}, below the minimum {_fmt(bound.min)}")
        if bound.max is not None and value > bound.max:
            reasons.append(f"{bound.metric} = {_fmt(value)}, above the maximum {_fmt(bound.max)}")
    for category, need in gate.min_block_rate.items():
        checks += 1
        rate = summary.block_rates.get(category)
        if rate is None:
            reasons.append(f"red-team {category}: no blocked/not-blocked cases of that "
                           "category in this run")
        elif rate < need:
            reasons.append(f"red-team {category}: block rate {rate:.1%} below {need:.1%}")
    if gate.regression is not None:
        if comparison is None:
            raise EvalConfigInvalid(f"gate {gate.name!r} checks regressions: pass --baseline RUN",
                                    param="baseline")
        checks += 1
        reasons.extend(_regressions(gate.regression, comparison))
    return GateVerdict(gate.name, not reasons, reasons, checks)


def _regressions(rules: Mapping[str, Any], comparison: Comparison) -> list[str]:
    reasons = []
    allowed = int(rules.get("max_regressed_cases", 0))
    if len(comparison.regressed) > allowed:
        names = ", ".join(d.case_id for d in comparison.regressed[:10])
        more = len(comparison.regressed) - 10
        reasons.append(f"{len(comparison.regressed)} case(s) regressed (allowed {allowed}): "
                       f"{names}{f' and {more} more' if more > 0 else ''}")
    if "max_mean_drop" in rules and -comparison.mean_delta > float(rules["max_mean_drop"]):
        reasons.append(f"{comparison.metric} fell by {-comparison.mean_delta:.4g} (allowed "
                       f"{float(rules['max_mean_drop']):.4g}); 95% CI of the change "
                       f"[{comparison.ci_low:.4g}, {comparison.ci_high:.4g}]")
    if rules.get("fail_on_significant_drop", False) and comparison.significant_drop:
        reasons.append(f"{comparison.metric} dropped significantly: CI of the change "
                       f"[{comparison.ci_low:.4g}, {comparison.ci_high:.4g}], Wilcoxon p = "
                       f"{comparison.wilcoxon_p:.3g}")
    return reasons


def regression_options(gate: Gate) -> tuple[str | None, float]:
    """The scorer and tolerance the gate's comparison uses."""
    rules = gate.regression or {}
    scorer = rules.get("scorer")
    return (str(scorer) if scorer else None,
            float(rules.get("tolerance", DEFAULT_TOLERANCE)))
