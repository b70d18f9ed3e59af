"""The policy decision: what one request may do, which guardrails run, what is logged.

A plain immutable value, built once per request by the policy engine and read by the
guardrail stages, the router (allow-lists), the cache, and the audit trail (which records
`explanation` and `logging`/`retention_days`). It imports nothing of ours beyond the
guardrail contract's literals, so every feature can depend on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pavedroad.guardrails.base import Action, Direction

LogLevel = Literal["full", "redacted", "metadata"]
LOG_LEVELS: tuple[LogLevel, ...] = ("full", "redacted", "metadata")
ACTIONS: tuple[Action, ...] = ("allow", "flag", "redact", "block")


@dataclass(frozen=True, slots=True)
class GuardrailRule:
    """Run guardrail `name` on `direction` and apply `action` to what it finds."""

    name: str
    direction: Direction
    action: Action
    params: Mapping[str, Any] = field(default_factory=dict)
    # For action "redact": mask | placeholder | pseudonymise (see guardrails/redact.py).
    mode: str = "placeholder"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "direction": self.direction, "action": self.action,
                "params": dict(self.params), "mode": self.mode}


@dataclass(frozen=True, slots=True)
class Decision:
    """One request's policy decision; `explanation` names the rules that matched.

    Allow-lists are None when the policy does not restrict that dimension; an empty set
    allows nothing.
    """

    allowed: bool = True
    reasons: tuple[str, ...] = ()  # why it was denied (empty when allowed)
    explanation: tuple[str, ...] = ()  # every rule that matched, in evaluation order
    models: frozenset[str] | None = None
    tiers: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    tools: frozenset[str] | None = None
    guardrails: tuple[GuardrailRule, ...] = ()
    logging: LogLevel = "full"
    retention_days: int = 30
    safe_mode: bool = False
    policy_version: str = ""

    def rules(self, direction: Direction) -> tuple[GuardrailRule, ...]:
        return tuple(r for r in self.guardrails if r.direction == direction)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the audit record and `policy test` output."""

        def listed(values: frozenset[str] | None) -> list[str] | None:
            return None if values is None else sorted(values)

        return {
            "allowed": self.allowed, "reasons": list(self.reasons),
            "explanation": list(self.explanation), "models": listed(self.models),
            "tiers": listed(self.tiers), "regions": listed(self.regions),
            "tools": listed(self.tools),
            "guardrails": [r.as_dict() for r in self.guardrails],
            "logging": self.logging, "retention_days": self.retention_days,
            "safe_mode": self.safe_mode, "policy_version": self.policy_version,
        }


# What a request gets when no policy is configured: everything allowed, logged in full.
DEFAULT_DECISION = Decision(explanation=("no policy configured",))


@dataclass(frozen=True, slots=True)
class AppliedFinding:
    """A guardrail finding with what the policy did about it; never the matched text."""

    guardrail: str
    category: str
    score: float
    action: Action
    direction: Direction
    source: str = "user"
