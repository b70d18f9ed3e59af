"""Regression gate: the fast pass must keep the recall targets on the committed eval set."""

from __future__ import annotations

from pathlib import Path

from pavedroad.guardrails.pii import PiiGuardrail
from pavedroad.guardrails.pii.evaluate import load_cases, score

EVALS = Path(__file__).resolve().parents[2] / "evals" / "pii"
RECALL_TARGETS = {
    "EMAIL": 0.95, "CREDIT_CARD": 0.95, "IBAN": 0.95, "PHONE": 0.95, "US_SSN": 0.95,
    "PERSON": 0.80, "POSTAL_ADDRESS": 0.80,
}  # fmt: skip
PRECISION_FLOOR = 0.90  # every category, so a noisier detector also fails CI


def test_recall_and_precision_targets_hold_on_the_committed_set() -> None:
    cases = load_cases(EVALS)
    assert len(cases) >= 900 and any(c["source"] == "authored" for c in cases)
    tallies = score(cases, PiiGuardrail())
    for category, target in RECALL_TARGETS.items():
        assert tallies[category].gold >= 40, category
        assert tallies[category].recall >= target, (category, tallies[category].misses[:5])
    for category, tally in tallies.items():
        assert tally.precision >= PRECISION_FLOOR, (category, tally.false_alarms[:5])
