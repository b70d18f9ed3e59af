"""Optional NER backend: spaCy, when it and a model package are installed; never downloads.

spaCy is deliberately not a dependency: higher risk classes can opt in by installing it and
a model package (for example `en_core_web_sm` from a package index), and the fast pass runs
alone everywhere else.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import entry_points
from typing import Any

from pavedroad.guardrails.pii.span import Span

_LABELS = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
_PREFERRED = ("en_core_web_sm", "en_core_web_md", "en_core_web_lg", "xx_ent_wiki_sm")


def installed_model() -> str | None:
    """The name of an installed spaCy model package, or None when NER cannot run here.

    Model packages announce themselves in the `spacy_models` entry-point group, so this
    looks without importing spaCy (which takes about a second).
    """
    if importlib.util.find_spec("spacy") is None:
        return None
    installed = {point.name for point in entry_points(group="spacy_models")}
    for name in _PREFERRED:
        if name in installed:
            return name
    # Re-uploads carry suffixes (en_core_web_sm_<x>): take the smallest English one.
    english = sorted(name for name in installed if name.startswith("en_core_web"))
    return english[0] if english else (min(installed) if installed else None)


class SpacyNer:
    """Adds PERSON and LOCATION spans from a spaCy pipeline loaded from an installed package."""

    def __init__(self, model: str) -> None:
        # Imported by name so the module imports cleanly when spaCy is absent.
        spacy: Any = importlib.import_module("spacy")
        self.model = model
        self._nlp: Any = spacy.load(model, exclude=["parser", "lemmatizer", "textcat"])

    def spans(self, text: str) -> list[Span]:
        doc = self._nlp(text)
        return [
            Span(_LABELS[ent.label_], 0.7, ent.start_char, ent.end_char, f"ner:{self.model}")
            for ent in doc.ents
            if ent.label_ in _LABELS
        ]


def load_ner() -> SpacyNer | None:
    model = installed_model()
    return SpacyNer(model) if model else None
