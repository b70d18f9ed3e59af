"""The `pii` guardrail: a fast pattern-and-validator pass on every request, plus an optional
NER backend for higher risk classes when spaCy and a model package are installed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pavedroad.guardrails.base import Finding, Manifest, ScanContext
from pavedroad.guardrails.pii import ner
from pavedroad.guardrails.pii.address import addresses
from pavedroad.guardrails.pii.identifiers import DETECTORS, Detector
from pavedroad.guardrails.pii.person import persons
from pavedroad.guardrails.pii.secret import secrets
from pavedroad.guardrails.pii.span import CATEGORIES, Span, resolve_overlaps

NAME = "pii"
DEFAULT_MIN_SCORE = 0.5
_ALL_DETECTORS: dict[str, Detector] = {
    **DETECTORS, "POSTAL_ADDRESS": addresses, "PERSON": persons, "SECRET": secrets,
}  # fmt: skip


def manifest(*, ner_model: str | None, ner_on: bool = False) -> Manifest:
    ner_note = (
        f"available: spaCy model package {ner_model!r} is installed"
        if ner_model
        else "unavailable: spaCy or a spaCy model package is not installed, the fast pass runs alone"
    )
    return Manifest(
        name=NAME,
        description="Finds personal data and secrets (patterns checked by validators: Luhn, "
        "mod-97, SSN ranges, IP parsing) and reports typed character spans for redaction.",
        directions=("input", "output"),
        latency_class="slow" if ner_on else "fast",  # spaCy's small model: ~100 ms per 2 KB
        redacts=True,
        parameters={
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "entities": {
                    "type": "array",
                    "items": {"enum": [*CATEGORIES, "LOCATION"]},
                    "uniqueItems": True,
                    "description": "Categories to report; all fast-pass categories when absent.",
                },
                "min_score": {"type": "number", "minimum": 0, "maximum": 1, "default": DEFAULT_MIN_SCORE},
                "ner": {
                    "type": "boolean",
                    "default": False,
                    "description": f"Add PERSON/LOCATION spans from an NER model ({ner_note}).",
                },
            },
            "x-ner-backend": f"spacy:{ner_model}" if ner_model else None,
        },
    )


class PiiGuardrail:
    def __init__(
        self, *, entities: tuple[str, ...] = CATEGORIES, min_score: float = DEFAULT_MIN_SCORE,
        backend: ner.SpacyNer | None = None,
    ) -> None:  # fmt: skip
        unknown = set(entities) - {*CATEGORIES, "LOCATION"}
        if unknown:
            raise ValueError(f"unknown PII entities: {', '.join(sorted(unknown))}")
        self.entities = frozenset(entities)
        self.min_score = min_score
        self._detectors = [d for category, d in _ALL_DETECTORS.items() if category in self.entities]
        self._ner = backend
        self.manifest = manifest(
            ner_model=backend.model if backend else ner.installed_model(), ner_on=backend is not None
        )

    def spans(self, text: str) -> list[Span]:
        """Resolved spans at or above `min_score`, in text order."""
        lowered = text.lower()
        candidates: list[Span] = []
        for detect in self._detectors:
            candidates.extend(detect(text, lowered))
        if self._ner is not None:
            candidates.extend(self._ner.spans(text))
        return resolve_overlaps(
            [s for s in candidates if s.score >= self.min_score and s.category in self.entities]
        )

    def scan(self, text: str, context: ScanContext) -> list[Finding]:
        return [
            Finding(NAME, s.category, s.score, s.start, s.end, s.detail) for s in self.spans(text)
        ]


def factory(params: Mapping[str, Any]) -> PiiGuardrail:
    """Builds the guardrail from policy parameters (see the manifest's schema)."""
    unknown = set(params) - {"entities", "min_score", "ner"}
    if unknown:
        raise ValueError(f"unknown pii parameters: {', '.join(sorted(unknown))}")
    min_score = float(params.get("min_score", DEFAULT_MIN_SCORE))
    if not 0 <= min_score <= 1:
        raise ValueError("pii min_score must be between 0 and 1")
    entities = tuple(params.get("entities") or CATEGORIES)
    backend = None
    if params.get("ner"):
        backend = ner.load_ner()  # None when not installed: the manifest says so
        if backend is not None:
            entities = (*entities, "LOCATION") if "LOCATION" not in entities else entities
    return PiiGuardrail(
        entities=entities, min_score=min_score, backend=backend
    )
