"""Regression gate: the fast pass must keep its numbers on the committed eval sets.

Two gates. The sets the detector was tuned on (faker + authored, split `tuned`) must meet the
issue's targets. The independent set (values labelled by other projects, see
evals/pii/PROVENANCE.md) is pinned at or just below what was measured when its test half was
scored once (2026-11-24), so a change that loses recall there fails CI even where the number
is still below the target (PERSON).
"""

from __future__ import annotations

from pathlib import Path

from pavedroad.guardrails.pii import PiiGuardrail
from pavedroad.guardrails.pii.evaluate import load_cases, score, split_of

EVALS = Path(__file__).resolve().parents[2] / "evals" / "pii"
RECALL_TARGETS = {
    "EMAIL": 0.95, "CREDIT_CARD": 0.95, "IBAN": 0.95, "PHONE": 0.95, "US_SSN": 0.95,
    "PERSON": 0.80, "POSTAL_ADDRESS": 0.80,
}  # fmt: skip
PRECISION_FLOOR = 0.90  # every category, so a noisier detector also fails CI
# Measured recall on the independent halves: test (scored once) and dev (tuned on).
INDEPENDENT_RECALL_PINS = {
    "test": {"EMAIL": 0.93, "PHONE": 0.95, "CREDIT_CARD": 0.95, "IBAN": 0.98,
             "POSTAL_ADDRESS": 0.92, "PERSON": 0.64},
    "dev": {"EMAIL": 0.88, "PHONE": 0.97, "CREDIT_CARD": 0.97, "IBAN": 0.98,
            "POSTAL_ADDRESS": 0.93, "PERSON": 0.83},
}  # fmt: skip
INDEPENDENT_PRECISION_FLOOR = 0.97  # measured 1.000 in every category on both halves


def test_recall_and_precision_targets_hold_on_the_tuned_set() -> None:
    cases = [c for c in load_cases(EVALS) if split_of(c) == "tuned"]
    assert len(cases) >= 900 and any(c["source"] == "authored" for c in cases)
    tallies = score(cases, PiiGuardrail())
    for category, target in RECALL_TARGETS.items():
        assert tallies[category].gold >= 40, category
        assert tallies[category].recall >= target, (category, tallies[category].misses[:5])
    for category, tally in tallies.items():
        assert tally.precision >= PRECISION_FLOOR, (category, tally.false_alarms[:5])


def test_independent_set_holds_its_measured_numbers() -> None:
    cases = load_cases(EVALS)
    guardrail = PiiGuardrail()
    for split, pins in INDEPENDENT_RECALL_PINS.items():
        subset = [c for c in cases if split_of(c) == split]
        assert all(c["source"].startswith("independent:") for c in subset)
        tallies = score(subset, guardrail)
        for category, pin in pins.items():
            assert tallies[category].gold >= 15, (split, category)
            assert tallies[category].recall >= pin, (split, category, tallies[category].misses[:5])
        for category, tally in tallies.items():
            assert tally.precision >= INDEPENDENT_PRECISION_FLOOR, (split, category, tally.false_alarms[:5])


def test_independent_set_is_split_in_two_halves_of_similar_size() -> None:
    independent = [c for c in load_cases(EVALS) if c["source"].startswith("independent:")]
    splits = [split_of(c) for c in independent]
    assert set(splits) == {"dev", "test"}
    assert 0.4 <= splits.count("test") / len(splits) <= 0.6
    persons = sum(s["category"] == "PERSON" for c in independent for s in c["spans"])
    addresses = sum(s["category"] == "POSTAL_ADDRESS" for c in independent for s in c["spans"])
    assert persons >= 100 and addresses >= 100
