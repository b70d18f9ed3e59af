"""PII detection: the fast pattern-and-validator pass, and the optional NER backend."""

from pavedroad.guardrails.pii.guardrail import NAME, PiiGuardrail, factory, manifest
from pavedroad.guardrails.pii.span import CATEGORIES, Span

__all__ = ["CATEGORIES", "NAME", "PiiGuardrail", "Span", "factory", "manifest"]
