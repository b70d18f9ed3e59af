"""Per-app mutable state: fault rules, request statistics and id counters.

Everything runs on one event loop, so plain attributes are enough; a rule's countdown
is decremented in the same synchronous step that matches it, so two concurrent
requests can never both consume the last use of a rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pavedroad.sim.faults import Fault

__all__ = ["ANY_MODEL", "FaultRule", "SimState"]

ANY_MODEL = "*"


@dataclass(kw_only=True)
class FaultRule:
    """A fault applied to requests for `model` (or every model), `remaining` times or forever."""

    model: str
    fault: Fault
    remaining: int | None = None

    def matches(self, model: str) -> bool:
        return self.model in (ANY_MODEL, model)


class SimState:
    """Faults and stats of one simulator app; `create_app` makes a fresh one each time."""

    def __init__(self, *, require_key: str | None = None) -> None:
        self.require_key = require_key
        self.rules: list[FaultRule] = []
        self.requests = 0
        self.faults_applied = 0
        self.by_model: Counter[str] = Counter()
        self.by_path: Counter[str] = Counter()
        self.last_headers: dict[str, str] = {}
        self._ids: Counter[str] = Counter()

    # --- faults -------------------------------------------------------------

    def add_rule(self, model: str, fault: Fault, *, times: int | None = None) -> FaultRule:
        rule = FaultRule(model=model, fault=fault, remaining=times)
        self.rules.append(rule)
        return rule

    def clear_faults(self) -> None:
        self.rules.clear()

    def take_fault(self, model: str) -> Fault | None:
        """First matching rule wins; using it counts down and drops it at zero."""
        for i, rule in enumerate(self.rules):
            if not rule.matches(model):
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    del self.rules[i]
            return rule.fault
        return None

    # --- stats --------------------------------------------------------------

    def record_request(self, path: str, headers: Mapping[str, str]) -> None:
        self.requests += 1
        self.by_path[path] += 1
        self.last_headers = {k.lower(): v for k, v in headers.items()}

    def record_model(self, model: str) -> None:
        self.by_model[model] += 1

    def record_fault(self) -> None:
        self.faults_applied += 1

    def next_id(self, kind: str) -> int:
        """Sequential ids per kind keep responses reproducible from a fresh state."""
        self._ids[kind] += 1
        return self._ids[kind]

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_model": dict(self.by_model),
            "by_path": dict(self.by_path),
            "last_headers": dict(self.last_headers),
            "faults_applied": self.faults_applied,
            "active_rules": len(self.rules),
        }

    def reset(self) -> None:
        """Back to a fresh state, ids included, so a rehearsal can be replayed exactly."""
        self.rules.clear()
        self.requests = 0
        self.faults_applied = 0
        self.by_model.clear()
        self.by_path.clear()
        self.last_headers = {}
        self._ids.clear()
