"""Cheap scorers only online evaluation needs (empty answers, length, JSON validity of JSON
requests); every other name (`refusal`, ...) comes from the scorer registry (docs/adr/0017).

A scorer that does not apply to a sample (JSON validity when no JSON was asked for) returns
a score marked `skipped` in its details; online evaluation drops those.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pavedroad.evals.types import Case, Output, Score, Scorer

SKIPPED = "skipped"


def skipped(name: str, reason: str) -> Score:
    return Score(name, 0.0, True, reason=reason, details={SKIPPED: True})


class EmptyAnswer:
    """Passes when the answer has visible text."""

    name = "empty"
    cheap = True

    async def score(self, case: Case, output: Output) -> Score:
        empty = not output.text.strip()
        return Score(self.name, 0.0 if empty else 1.0, not empty,
                     reason="empty answer" if empty else "")


class Length:
    """Passes when the answer is at most `max_chars` long; beyond it the value falls from 1
    (twice the limit scores 0.5), like the latency threshold."""

    name = "length"
    cheap = True

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars

    async def score(self, case: Case, output: Output) -> Score:
        size = len(output.text)
        within = size <= self.max_chars
        return Score(self.name, 1.0 if within else self.max_chars / size, within,
                     reason="" if within else f"{size} characters, over {self.max_chars}",
                     details={"chars": size})


class JsonValid:
    """For requests that asked for JSON (`response_format`), whether the answer parses."""

    name = "json_valid"
    cheap = True

    async def score(self, case: Case, output: Output) -> Score:
        if case.metadata.get("response_format") not in ("json_object", "json_schema"):
            return skipped(self.name, "no JSON asked for")
        try:
            json.loads(output.text)
        except ValueError as exc:
            return Score(self.name, 0.0, False, reason=f"not JSON: {exc}")
        return Score(self.name, 1.0, True)


def builtin_scorers(*, max_chars: int) -> Mapping[str, Scorer]:
    return {"empty": EmptyAnswer(), "length": Length(max_chars), "json_valid": JsonValid()}
