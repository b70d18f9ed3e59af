"""Policy unit tests: YAML cases of `given` input and `expect`ed decision fields.

```yaml
policy: ../policies        # optional; default: the shipped policy (relative to this file)
cases:
  - name: high risk apps block injection
    given: {app: {risk_class: high}, request: {model: fast}}
    expect:
      allowed: true
      models: [gpt-4o-mini]               # compared as sets
      guardrails: {input: {injection: block}}
      logging: redacted
      explanation_includes: [high-guardrails]
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pavedroad.policy.decision import Decision
from pavedroad.policy.engine import PolicyEngine, complete_input
from pavedroad.policy.model import PolicyError

_SET_FIELDS = ("models", "tiers", "regions", "tools")
_PLAIN_FIELDS = ("allowed", "logging", "retention_days", "safe_mode")


@dataclass(slots=True)
class CaseResult:
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def load_suite(path: Path, *, policy: Path | None = None) -> tuple[PolicyEngine, list[Any]]:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise PolicyError([f"{path}: not YAML: {exc}"]) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cases"), list):
        raise PolicyError([f"{path}: expected a mapping with a `cases` list"])
    if policy is None and raw.get("policy"):
        policy = (path.parent / str(raw["policy"])).resolve()
    return PolicyEngine.load(policy), raw["cases"]


def run_case(engine: PolicyEngine, case: Any, index: int) -> CaseResult:
    if not isinstance(case, dict):
        return CaseResult(f"case {index}", ["a case must be a mapping"])
    result = CaseResult(str(case.get("name") or f"case {index}"))
    try:
        decision = engine.decide(complete_input(case.get("given") or {}))
    except PolicyError as exc:
        result.failures.extend(exc.problems)
        return result
    expect = case.get("expect") or {}
    if not isinstance(expect, dict):
        return CaseResult(result.name, ["`expect` must be a mapping"])
    result.failures.extend(compare(decision, expect))
    return result


def compare(decision: Decision, expect: dict[str, Any]) -> list[str]:
    failures: list[str] = []
    actual = decision.as_dict()
    for key, wanted in expect.items():
        if key in _PLAIN_FIELDS:
            if actual[key] != wanted:
                failures.append(f"{key}: expected {wanted!r}, got {actual[key]!r}")
        elif key in _SET_FIELDS:
            got = actual[key]
            if (None if wanted is None else sorted(wanted)) != got:
                failures.append(f"{key}: expected {wanted!r}, got {got!r}")
        elif key == "guardrails":
            failures.extend(_compare_guardrails(decision, wanted))
        elif key in ("explanation_includes", "reasons_include"):
            haystack = " | ".join(actual["explanation" if key.startswith("expl") else "reasons"])
            failures.extend(f"{key}: {needle!r} not in {haystack!r}"
                            for needle in wanted if needle not in haystack)
        else:
            failures.append(f"unknown expectation {key!r}")
    return failures


def _compare_guardrails(decision: Decision, wanted: Any) -> list[str]:
    failures: list[str] = []
    if not isinstance(wanted, dict):
        return ["guardrails: expected {direction: {name: action}}"]
    for direction, by_name in wanted.items():
        got = {r.name: r for r in decision.guardrails if r.direction == direction}
        for name, action in (by_name or {}).items():
            rule = got.get(name)
            have = rule.action if rule else "none"
            if isinstance(action, dict):
                if rule is None or any(
                        getattr(rule, k, rule.params.get(k)) != v for k, v in action.items()):
                    failures.append(f"guardrails.{direction}.{name}: expected {action!r}, "
                                    f"got {rule.as_dict() if rule else None!r}")
            elif have != action:
                failures.append(f"guardrails.{direction}.{name}: expected {action}, got {have}")
    return failures


def run_suite(path: Path, *, policy: Path | None = None) -> list[CaseResult]:
    engine, cases = load_suite(path, policy=policy)
    return [run_case(engine, case, i) for i, case in enumerate(cases)]
