"""Shapes added after the independent dev split: records-style names, ZIP-anchored US
addresses, loosely separated IBANs and internationalised e-mail (values invented here)."""

from __future__ import annotations

import pytest

from pavedroad.guardrails.pii import PiiGuardrail

GUARD = PiiGuardrail()


def found(text: str) -> list[tuple[str, str]]:
    return [(s.category, text[s.start : s.end]) for s in GUARD.spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Payee: MARGARET HOLLOWAY, acct 7", ("PERSON", "MARGARET HOLLOWAY")),
        ("Insured party HOLLOWAY, MARGARET J on file", ("PERSON", "HOLLOWAY, MARGARET J")),
        ("reviewed by Jenkins, Walter yesterday", ("PERSON", "Jenkins, Walter")),
        ("paper co-written with Minghao Zhou last year", ("PERSON", "Minghao Zhou")),
        ("deliver to 4410 OAKHURST DRIVE APT 2B SPRINGDALE AR 72764-1190 today",
         ("POSTAL_ADDRESS", "4410 OAKHURST DRIVE APT 2B SPRINGDALE AR 72764-1190")),
        ("office: 20 W Kinzie, Ste. 900, Chicago, IL 60654.",
         ("POSTAL_ADDRESS", "20 W Kinzie, Ste. 900, Chicago, IL 60654")),
        ("lives at 77 maple grove road little falls mn 56345",
         ("POSTAL_ADDRESS", "77 maple grove road little falls mn 56345")),
        ("Konto DE 89 3704 0044 0532 0130 00 bitte", ("IBAN", "DE 89 3704 0044 0532 0130 00")),
        ("IBAN de89-3704-0044-0532-0130-00".upper(), ("IBAN", "DE89-3704-0044-0532-0130-00")),
        ("write to søren.ålund@eksempel.dk please", ("EMAIL", "søren.ålund@eksempel.dk")),
        ("alias sales/eu=de@example.org works", ("EMAIL", "sales/eu=de@example.org")),
    ],
)  # fmt: skip
def test_detects_record_shapes(text: str, expected: tuple[str, str]) -> None:
    assert expected in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "We flew from Paris, France to Savannah, Georgia in May.",
        "Docs are available in French, German and Spanish.",
        "Supported: French, German, Italian.",
        "NZDT    46800    # New Zealand Island Time\nCHAST   45900",
        "Order 55012 ships in 3 to 5 days from the Memphis hub.",
        "the API KEY and the SSN FIELD are both required",
    ],
)
def test_record_shapes_stay_quiet_on_lookalikes(text: str) -> None:
    assert [c for c, _ in found(text) if c in ("PERSON", "POSTAL_ADDRESS")] == []
