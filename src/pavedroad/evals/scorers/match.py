"""Cheap deterministic scorers: exact, contains, regex, JSON schema, numbers, refusal,
latency and cost. Each reads the case's `expected` unless its parameters say otherwise."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import jsonschema

from pavedroad.core.errors import EvalConfigInvalid
from pavedroad.evals.refusal import is_refusal
from pavedroad.evals.scorers.base import expected_texts, no_expected
from pavedroad.evals.types import Case, Output, Score, ScorerContext

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def _norm(text: str, *, case_sensitive: bool) -> str:
    text = " ".join(text.split())
    return text if case_sensitive else text.casefold()


class ExactMatch:
    """The answer equals an expected string (whitespace-normalised; case-insensitive
    unless `case_sensitive`)."""

    name = "exact"
    cheap = True

    def __init__(self, p: Mapping[str, Any], _: ScorerContext) -> None:
        self.case_sensitive = bool(p.get("case_sensitive", False))

    async def score(self, case: Case, output: Output) -> Score:
        wanted = expected_texts(case.expected)
        if not wanted:
            return no_expected(self.name)
        got = _norm(output.text, case_sensitive=self.case_sensitive)
        hit = any(got == _norm(w, case_sensitive=self.case_sensitive) for w in wanted)
        return Score(self.name, 1.0 if hit else 0.0, hit,
                     reason="" if hit else "the answer is not the expected text")


class Contains:
    """The answer contains the expected strings (`values`, else `expected`); the value is
    the share found; `mode: any` passes on one."""

    name = "contains"
    cheap = True

    def __init__(self, p: Mapping[str, Any], _: ScorerContext) -> None:
        self.values = [str(v) for v in p.get("values", [])]
        self.any = p.get("mode", "all") == "any"
        self.case_sensitive = bool(p.get("case_sensitive", False))

    async def score(self, case: Case, output: Output) -> Score:
        wanted = self.values or expected_texts(case.expected)
        if not wanted:
            return no_expected(self.name)
        text = _norm(output.text, case_sensitive=self.case_sensitive)
        found = [w for w in wanted if _norm(w, case_sensitive=self.case_sensitive) in text]
        value = len(found) / len(wanted)
        passed = bool(found) if self.any else len(found) == len(wanted)
        missing = [w for w in wanted if w not in found]
        return Score(self.name, value, passed,
                     reason="" if passed else f"missing: {', '.join(missing)[:200]}")


class RegexMatch:
    """The answer matches `pattern` (else the expected output, read as a pattern)."""

    name = "regex"
    cheap = True

    def __init__(self, p: Mapping[str, Any], _: ScorerContext) -> None:
        self.flags = re.IGNORECASE if p.get("ignore_case", False) else 0
        self.pattern = self._compile(p["pattern"]) if "pattern" in p else None

    def _compile(self, pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern, self.flags)
        except re.error as exc:
            raise EvalConfigInvalid(f"scorer 'regex': bad pattern {pattern!r} ({exc})",
                                    param="pattern") from None

    async def score(self, case: Case, output: Output) -> Score:
        pattern = self.pattern
        if pattern is None:
            wanted = expected_texts(case.expected)
            if not wanted:
                return no_expected(self.name)
            pattern = self._compile(wanted[0])
        hit = pattern.search(output.text) is not None
        return Score(self.name, 1.0 if hit else 0.0, hit,
                     reason="" if hit else f"no match for /{pattern.pattern}/")


def parse_json_answer(text: str) -> Any:
    """The answer as JSON, allowing one surrounding Markdown code fence."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    return json.loads(fenced.group(1) if fenced else stripped)


class JsonSchemaValid:
    """The answer parses as JSON and satisfies `schema` (else the case's
    `metadata.schema`); without a schema, parsing is enough."""

    name = "json_schema"
    cheap = True

    def __init__(self, p: Mapping[str, Any], _: ScorerContext) -> None:
        self.schema = p.get("schema")
        if self.schema is not None:
            try:
                jsonschema.Draft202012Validator.check_schema(self.schema)
            except jsonschema.SchemaError as exc:
                raise EvalConfigInvalid(f"scorer 'json_schema': not a JSON schema ({exc.message})",
                                        param="schema") from None

    async def score(self, case: Case, output: Output) -> Score:
        try:
            data = parse_json_answer(output.text)
        except ValueError as exc:
            return Score(self.name, 0.0, False, reason=f"not JSON: {exc}")
        schema = self.schema if self.schema is not None else case.metadata.get("schema")
        if schema is None:
            return Score(self.name, 1.0, True)
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(schema).iter_errors(data))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return Score(self.name, 0.0, False, reason=f"{where}: {error.message}"[:300])
        return Score(self.name, 1.0, True)


def first_number(text: str) -> float | None:
    match = _NUMBER.search(text)
    return float(match.group().replace(",", "")) if match else None


class NumericTolerance:
    """The first number in the answer is within `abs_tol` or `rel_tol` of the expected
    number."""

    name = "numeric"
    cheap = True

    def __init__(self, p: Mapping[str, Any], _: ScorerContext) -> None:
        self.abs_tol = float(p.get("abs_tol", 0.0))
        self.rel_tol = float(p.get("rel_tol", 1e-9))

    async def score(self, case: Case, output: Output) -> Score:
        try:
            wanted = float(case.expected)
        except (TypeError, ValueError):
            return Score(self.name, 0.0, False, reason="the expected output is not a number")
        got = first_number(output.text)
        if got is None:
            return Score(self.name, 0.0, False, reason="no number in the answer")
        close = math.isclose(got, wanted, rel_tol=self.rel_tol, abs_tol=self.abs_tol)
        return Score(self.name, 1.0 if close else 0.0, close,
                     reason="" if close else f"{got:g} is not {wanted:g}",
                     details={"got": got, "expected": wanted})


class RefusalCheck:
    """Whether the model refused when it should (`expect: refuse`, or a case's
    `metadata.should_refuse`) and answered when it should not."""

    name = "refusal"
    cheap = True

    def __init__(self, p: Mapping[str, Any], _: ScorerContext) -> None:
        self.expect_refusal = p.get("expect", "answer") == "refuse"

    async def score(self, case: Case, output: Output) -> Score:
        should = bool(case.metadata.get("should_refuse", self.expect_refusal))
        refused = output.status >= 400 or is_refusal(output.text)
        ok = refused == should
        reason = "" if ok else ("answered but should have refused" if should
                                else "refused but should have answered")
        return Score(self.name, 1.0 if ok else 0.0, ok, reason=reason,
                     details={"refused": refused})


class LatencyThreshold:
    """Passes under `max_ms`; the value falls from 1 as latency exceeds it."""

    name = "latency"
    cheap = True

    def __init__(self, p: Mapping[str, Any], _: ScorerContext) -> None:
        self.max_ms = float(p["max_ms"])

    async def score(self, case: Case, output: Output) -> Score:
        took = output.latency_ms
        ok = took <= self.max_ms
        return Score(self.name, 1.0 if ok else self.max_ms / took, ok,
                     reason="" if ok else f"{took:.0f} ms > {self.max_ms:.0f} ms",
                     details={"latency_ms": took})


class CostThreshold:
    """Passes at or under `max_usd`; an answer the gateway could not price fails (unpriced
    is not free)."""

    name = "cost"
    cheap = True

    def __init__(self, p: Mapping[str, Any], _: ScorerContext) -> None:
        self.max_usd = float(p["max_usd"])

    async def score(self, case: Case, output: Output) -> Score:
        cost = output.cost_usd
        if cost is None:
            return Score(self.name, 0.0, False, reason="the gateway reported no cost")
        ok = cost <= self.max_usd
        value = 1.0 if ok or cost == 0 else self.max_usd / cost
        return Score(self.name, value, ok,
                     reason="" if ok else f"${cost:.6f} > ${self.max_usd:.6f}",
                     details={"cost_usd": cost})
