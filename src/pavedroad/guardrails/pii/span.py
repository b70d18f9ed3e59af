"""A candidate PII span, and the rule that picks one winner where candidates overlap."""

from __future__ import annotations

from dataclasses import dataclass

# Higher wins a tie between overlapping spans of equal length: checksummed identifiers are
# more specific than free-text shapes.
SPECIFICITY: dict[str, int] = {
    "SECRET": 9, "CREDIT_CARD": 8, "IBAN": 8, "EMAIL": 8, "US_SSN": 7, "IP_ADDRESS": 7,
    "DATE_OF_BIRTH": 6, "PHONE": 5, "POSTAL_ADDRESS": 4, "PERSON": 3, "LOCATION": 2,
}  # fmt: skip

CATEGORIES: tuple[str, ...] = (
    "EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "POSTAL_ADDRESS",
    "PERSON", "DATE_OF_BIRTH", "SECRET",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Span:
    category: str
    score: float
    start: int
    end: int
    detail: str = ""


def resolve_overlaps(spans: list[Span]) -> list[Span]:
    """Keep non-overlapping spans: the longest first, then the most specific, then the surest.

    Identifiers with checksums (cards, IBANs) beat any containing free-text span of the same
    length; a longer address still beats the phone-looking house number inside it.
    """
    ranked = sorted(
        spans,
        key=lambda s: (-(s.end - s.start), -SPECIFICITY.get(s.category, 0), -s.score, s.start),
    )
    kept: list[Span] = []
    for span in ranked:
        if all(span.end <= other.start or span.start >= other.end for other in kept):
            kept.append(span)
    kept.sort(key=lambda s: s.start)
    return kept


def near(lowered: str, start: int, words: tuple[str, ...], *, window: int = 40) -> bool:
    """Whether one of `words` occurs in the `window` characters before `start`."""
    before = lowered[max(0, start - window) : start]
    return any(word in before for word in words)
