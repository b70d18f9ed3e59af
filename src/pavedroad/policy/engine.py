"""Evaluates policy rules for one request and merges the matches into a `Decision`.

Every rule's CEL condition is compiled once, at load, into ONE program that returns the
list of match flags, so a decision costs one call into the CEL runtime (Rust) plus the
merge. Merging is order-independent where it matters for safety: allow-lists intersect,
the strictest guardrail action wins, the most private logging level wins, the longest
retention wins, and any matching `deny` denies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import cel
import orjson

from pavedroad.guardrails.base import Action, Direction
from pavedroad.policy.decision import Decision, GuardrailRule, LogLevel
from pavedroad.policy.model import (
    DEFAULT_POLICY,
    Defaults,
    PolicyDocument,
    PolicyError,
    Rule,
    load_documents,
)

log = logging.getLogger("pavedroad.policy")

_ACTION_RANK: dict[str, int] = {"allow": 0, "flag": 1, "redact": 2, "block": 3}
_LOG_RANK: dict[str, int] = {"full": 0, "redacted": 1, "metadata": 2}
DIRECTIONS: tuple[Direction, ...] = ("input", "output")
# What the CEL runtime raises for a condition that cannot be evaluated (missing key, type).
_CEL_ERRORS = (RuntimeError, ValueError, TypeError, KeyError)

# Every variable a condition may read, with the shape a missing field defaults to, so a
# rule never fails on an absent field (CEL raises on unknown keys).
EMPTY_INPUT: dict[str, dict[str, Any]] = {
    "caller": {"key": "", "key_name": "", "app": "", "team": "", "tenant": "", "tags": {},
               "admin": False},
    "app": {"id": "", "name": "", "path": "", "risk_class": "minimal",
            "data_classification": "internal"},
    "request": {"endpoint": "", "model": "", "stream": False, "tools": [], "deployments": [],
                "upstream_models": [], "regions": [], "response_format": "",
                "max_tokens": 0},
}


def complete_input(given: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`given` over the defaults, one level deep (what `policy test` cases rely on)."""
    out: dict[str, dict[str, Any]] = {}
    for name, fields in EMPTY_INPUT.items():
        extra = given.get(name) or {}
        out[name] = {**fields, **extra}
    unknown = set(given) - set(EMPTY_INPUT)
    if unknown:
        raise PolicyError([f"unknown input variable(s): {', '.join(sorted(unknown))}"])
    return out


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    where: str


class PolicyEngine:
    def __init__(self, documents: Sequence[tuple[Path, PolicyDocument]]) -> None:
        problems: list[str] = []
        self._rules: list[_Compiled] = []
        self.version = "+".join(doc.version for _, doc in documents)
        self.defaults = documents[0][1].defaults if documents else Defaults()
        seen: set[str] = set()
        for path, doc in documents:
            for i, rule in enumerate(doc.rules):
                where = f"{path.name}: rules[{i}] ({rule.id})"
                if rule.id in seen:
                    problems.append(f"{where}: rule id {rule.id!r} is used twice")
                seen.add(rule.id)
                problems.extend(_check_rule(rule, where))
                self._rules.append(_Compiled(rule, where))
        if problems:
            raise PolicyError(problems)
        source = "[" + ", ".join(f"({c.rule.when})" for c in self._rules) + "]"
        self._program = cel.compile(source)
        # Decisions are a pure function of the input, and inputs repeat (the same key asks
        # the same model again), so remembering them turns ~40-70 µs into a dict lookup.
        self._memo: dict[Any, Decision] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> PolicyEngine:
        return cls(load_documents(path or DEFAULT_POLICY))

    @property
    def rules(self) -> list[Rule]:
        return [c.rule for c in self._rules]

    def guardrail_names(self) -> set[str]:
        return {name for c in self._rules for by_name in c.rule.guardrails.values()
                for name in by_name}

    def decide(self, given: Mapping[str, Any]) -> Decision:
        """The decision for a complete input (see `complete_input`)."""
        try:  # ~0.6 µs, against ~20 µs for a tuple image of the same input
            memo_key: Any = orjson.dumps(given, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # a value JSON cannot hold (a set): the slower, general image
            memo_key = _freeze(given)
        decision = self._memo.get(memo_key)
        if decision is None:
            decision = self._evaluate(given)
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()  # crude but bounded; hot inputs come straight back
            self._memo[memo_key] = decision
        return decision

    def _evaluate(self, given: Mapping[str, Any]) -> Decision:
        try:
            flags = self._program.execute(dict(given))
        except _CEL_ERRORS:
            return self._decide_one_by_one(given)
        return self._merge([c.rule for c, hit in zip(self._rules, flags, strict=True)
                            if hit is True])

    def _decide_one_by_one(self, given: Mapping[str, Any]) -> Decision:
        """Slow path when some condition failed: a rule that cannot be evaluated denies
        (fail closed), and the explanation names it."""
        matched: list[Rule] = []
        broken: list[str] = []
        for c in self._rules:
            try:
                hit = cel.compile(c.rule.when).execute(dict(given))
            except _CEL_ERRORS as exc:
                log.warning("policy %s failed: %s", c.where, exc)
                broken.append(c.rule.id)
                continue
            if hit is True:
                matched.append(c.rule)
        decision = self._merge(matched)
        reasons = tuple(f"rule {r!r} could not be evaluated" for r in broken)
        return replace(decision, allowed=False, reasons=decision.reasons + reasons,
                        explanation=decision.explanation + reasons)

    def _merge(self, matched: Sequence[Rule]) -> Decision:
        allow: dict[str, frozenset[str] | None] = dict.fromkeys(
            ("models", "tiers", "regions", "tools"))
        guardrails: dict[tuple[str, Direction], GuardrailRule] = {}
        logging_level: LogLevel = self.defaults.logging
        retention = self.defaults.retention_days
        reasons: list[str] = []
        explanation = [f"policy version {self.version}"]
        safe_mode = False
        for rule in matched:
            explanation.append(f"{rule.id}: {rule.description}" if rule.description
                               else rule.id)
            if rule.deny is not None:
                reasons.append(f"{rule.id}: {rule.deny}")
            for dimension, current in list(allow.items()):
                values = getattr(rule, dimension)
                if values is not None:
                    allow[dimension] = (frozenset(values) if current is None
                                        else current & frozenset(values))
            for direction, by_name in rule.guardrails.items():
                for name, spec in by_name.items():
                    key = (name, cast(Direction, direction))
                    old = guardrails.get(key)
                    if old is None or _ACTION_RANK[spec.action] >= _ACTION_RANK[old.action]:
                        guardrails[key] = GuardrailRule(name, cast(Direction, direction),
                                                        spec.action, dict(spec.params),
                                                        spec.mode)
            if rule.logging is not None and _LOG_RANK[rule.logging] > _LOG_RANK[logging_level]:
                logging_level = rule.logging
            if rule.retention_days is not None:
                retention = max(retention, rule.retention_days)
            safe_mode = safe_mode or bool(rule.safe_mode)
        return Decision(
            allowed=not reasons, reasons=tuple(reasons), explanation=tuple(explanation),
            models=allow["models"], tiers=allow["tiers"], regions=allow["regions"],
            tools=allow["tools"],
            guardrails=tuple(r for r in guardrails.values() if r.action != "allow"),
            logging=logging_level, retention_days=retention, safe_mode=safe_mode,
            policy_version=self.version)


def _check_rule(rule: Rule, where: str) -> list[str]:
    problems: list[str] = []
    try:
        program = cel.compile(rule.when)
    except ValueError as exc:
        return [f"{where}: `when` is not valid CEL: {str(exc).splitlines()[0]}"]
    unknown = set(program.variables()) - set(EMPTY_INPUT) - _macro_vars(rule.when)
    if unknown:
        problems.append(f"{where}: `when` reads unknown variable(s) {', '.join(sorted(unknown))}"
                        f" (known: {', '.join(EMPTY_INPUT)})")
    for direction, by_name in rule.guardrails.items():
        if direction not in DIRECTIONS:
            problems.append(f"{where}: guardrails.{direction}: direction must be input or "
                            "output")
        for name, spec in by_name.items():
            if spec.mode not in ("mask", "placeholder", "pseudonymise"):
                problems.append(f"{where}: guardrails.{direction}.{name}.mode must be mask, "
                                "placeholder or pseudonymise")
    return problems


def _macro_vars(source: str) -> set[str]:
    out: set[str] = set()
    for macro in (".all(", ".exists(", ".exists_one(", ".map(", ".filter("):
        start = 0
        while (i := source.find(macro, start)) >= 0:
            var = source[i + len(macro):].split(",", 1)[0].strip()
            out.add(var)
            start = i + 1
    return out


def action_rank(action: Action) -> int:
    return _ACTION_RANK[action]


_MEMO_SIZE = 10_000


def _freeze(value: Any) -> Any:
    """A hashable, order-independent image of a JSON-like policy input."""
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(_freeze(v) for v in value)
    return value
