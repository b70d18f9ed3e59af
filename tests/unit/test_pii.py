"""The `pii` guardrail's fast pass: each detector's validators, overlaps, parameters."""

from __future__ import annotations

import pytest

from pavedroad.guardrails import pii
from pavedroad.guardrails.base import ScanContext
from pavedroad.guardrails.pii import CATEGORIES, PiiGuardrail, Span, factory
from pavedroad.guardrails.pii.span import resolve_overlaps
from pavedroad.guardrails.pii.validators import card_brand, iban_ok, luhn_ok, ssn_ok
from pavedroad.plugins.registry import load_registry

CTX = ScanContext(direction="input")


def found(text: str, **params: object) -> list[tuple[str, str]]:
    return [(f.category, text[f.start : f.end]) for f in factory(dict(params)).scan(text, CTX)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at ana.lima+news@mail.example.co.uk today", ("EMAIL", "ana.lima+news@mail.example.co.uk")),
        ("call +44 20 7946 0958 now", ("PHONE", "+44 20 7946 0958")),
        ("call (415) 555-2671 now", ("PHONE", "(415) 555-2671")),
        ("tel. 001-658-496-9350x123", ("PHONE", "001-658-496-9350x123")),
        ("card 4111-1111-1111-1111 please", ("CREDIT_CARD", "4111-1111-1111-1111")),
        ("amex 3782 822463 10005", ("CREDIT_CARD", "3782 822463 10005")),
        ("IBAN GB82 WEST 1234 5698 7654 32 THANKS", ("IBAN", "GB82 WEST 1234 5698 7654 32")),
        ("ssn 536-22-1234", ("US_SSN", "536-22-1234")),
        ("from 172.16.4.20 and", ("IP_ADDRESS", "172.16.4.20")),
        ("from fe80::1ff:fe23:4567:890a and", ("IP_ADDRESS", "fe80::1ff:fe23:4567:890a")),
        ("I was born on 4 July 1976.", ("DATE_OF_BIRTH", "4 July 1976")),
        ("key ghp_" + "a1B2" * 9 + " leaked", ("SECRET", "ghp_" + "a1B2" * 9)),
        ("Dear Margaret Okoye,", ("PERSON", "Margaret Okoye")),
        ("ship to 1600 Pennsylvania Avenue NW, Washington, DC 20500 asap",
         ("POSTAL_ADDRESS", "1600 Pennsylvania Avenue NW, Washington, DC 20500")),
    ],
)
def test_detects(text: str, expected: tuple[str, str]) -> None:
    assert expected in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "order 4111111111111112 shipped",  # fails Luhn
        "IBAN GB82 WEST 1234 5698 7654 33",  # fails mod-97
        "ssn 666-12-3456 and 900-12-3456 and 123-00-4567",  # invalid areas and group
        "version 1.2.3.4 and 999.1.1.1",
        "request id 123e4567-e89b-12d3-a456-426614174000",
        "meeting on 2024-01-15 at 10:30",
        "see commit 3f786850e387550fdab836ed7e6dc881de23001b",
    ],
)
def test_hard_negatives(text: str) -> None:
    assert found(text) == []


def test_validators() -> None:
    assert luhn_ok("4539578763621486") and not luhn_ok("4539578763621487")
    assert card_brand("378282246310005") == "amex"
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE8937040044053201300")
    assert ssn_ok("536", "22", "1234") and not ssn_ok("078", "05", "1120")


def test_longest_then_most_specific_wins() -> None:
    spans = [Span("PHONE", 0.8, 0, 19), Span("CREDIT_CARD", 0.95, 0, 19), Span("PERSON", 0.9, 3, 8)]
    assert [s.category for s in resolve_overlaps(spans)] == ["CREDIT_CARD"]


def test_findings_carry_spans_and_no_text() -> None:
    text = "write to jo@example.org"
    [finding] = factory({}).scan(text, CTX)
    assert (finding.guardrail, finding.category, finding.start, finding.end) == ("pii", "EMAIL", 9, 23)
    assert "jo@" not in finding.detail


def test_entities_and_min_score_filter() -> None:
    text = "jo@example.org, 536-22-1234"
    assert [c for c, _ in found(text, entities=["US_SSN"])] == ["US_SSN"]
    assert found(text, min_score=0.99) == []


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown pii parameters"):
        factory({"entity": ["EMAIL"]})
    with pytest.raises(ValueError, match="unknown PII entities"):
        factory({"entities": ["PASSPORT"]})
    with pytest.raises(ValueError, match="min_score"):
        factory({"min_score": 2})


def test_manifest_describes_parameters_and_ner_availability() -> None:
    guardrail = factory({"ner": True})
    manifest = guardrail.manifest
    assert manifest.name == "pii" and manifest.latency_class == "fast" and manifest.redacts
    props = manifest.parameters["properties"]
    assert set(props) == {"entities", "min_score", "ner"}
    assert set(CATEGORIES) <= set(props["entities"]["items"]["enum"])
    if manifest.parameters["x-ner-backend"] is None:
        assert "unavailable" in props["ner"]["description"]


class FakeNer:
    model = "fake_model"

    def spans(self, text: str) -> list[Span]:
        start = text.index("Zanzibar")
        return [Span("LOCATION", 0.7, start, start + len("Zanzibar"), "ner:fake_model")]


def test_ner_backend_adds_spans_alongside_the_fast_pass() -> None:
    guardrail = PiiGuardrail(entities=(*CATEGORIES, "LOCATION"), backend=FakeNer())  # type: ignore[arg-type]
    text = "Flying to Zanzibar, mail jo@example.org"
    assert [f.category for f in guardrail.scan(text, CTX)] == ["LOCATION", "EMAIL"]
    assert guardrail.manifest.parameters["x-ner-backend"] == "spacy:fake_model"
    assert guardrail.manifest.latency_class == "slow"


def test_registered_like_a_plugin() -> None:
    registry = load_registry()
    assert isinstance(registry.guardrail_factory("pii")({}), PiiGuardrail)


def test_public_names_are_pinned() -> None:
    assert sorted(pii.__all__) == ["CATEGORIES", "NAME", "PiiGuardrail", "Span", "factory", "manifest"]
