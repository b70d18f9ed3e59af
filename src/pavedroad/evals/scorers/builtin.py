"""Registers the built-in scorers, exactly as a third-party plugin would."""

from __future__ import annotations

from pavedroad.evals.redteam.criteria import BlockedScorer, PassedScorer
from pavedroad.evals.scorers import judge, match, text
from pavedroad.evals.scorers.base import params
from pavedroad.evals.types import ScorerManifest
from pavedroad.plugins.registry import PluginRegistry

_UNIT = {"type": "number", "minimum": 0, "maximum": 1}
_COVERAGE = {"min_coverage": _UNIT, "threshold": _UNIT}

MANIFESTS = (
    ScorerManifest("exact", "The answer equals an expected output (whitespace-normalised).",
                   match.ExactMatch, params({"case_sensitive": {"type": "boolean"}})),
    ScorerManifest("contains", "The answer contains the expected strings (share found).",
                   match.Contains,
                   params({"values": {"type": "array", "items": {"type": "string"}},
                           "mode": {"enum": ["all", "any"]},
                           "case_sensitive": {"type": "boolean"}})),
    ScorerManifest("regex", "The answer matches a regular expression.", match.RegexMatch,
                   params({"pattern": {"type": "string"}, "ignore_case": {"type": "boolean"}})),
    ScorerManifest("json_schema", "The answer is JSON valid against a schema.",
                   match.JsonSchemaValid, params({"schema": {"type": "object"}})),
    ScorerManifest("numeric", "The first number in the answer is within a tolerance.",
                   match.NumericTolerance,
                   params({"abs_tol": {"type": "number", "minimum": 0},
                           "rel_tol": {"type": "number", "minimum": 0}})),
    ScorerManifest("similarity", "Similarity to the expected answer, no model: word-set "
                   "Dice or character n-gram cosine.", text.Similarity,
                   params({"method": {"enum": ["token_set", "char_ngram"]},
                           "n": {"type": "integer", "minimum": 1, "maximum": 8},
                           "threshold": _UNIT})),
    ScorerManifest("groundedness", "Share of the answer's claims one context passage "
                   "supports.", text.Groundedness, params(_COVERAGE)),
    ScorerManifest("citation_coverage", "Share of claims citing a given source that "
                   "supports them.", text.CitationCoverage, params(_COVERAGE)),
    ScorerManifest("refusal", "Refused when it should, answered when it should not.",
                   match.RefusalCheck, params({"expect": {"enum": ["answer", "refuse"]}})),
    ScorerManifest("latency", "The gateway answered within max_ms.", match.LatencyThreshold,
                   params({"max_ms": {"type": "number", "exclusiveMinimum": 0}},
                          required=["max_ms"])),
    ScorerManifest("cost", "The request cost at most max_usd (unpriced fails).",
                   match.CostThreshold,
                   params({"max_usd": {"type": "number", "minimum": 0}}, required=["max_usd"])),
    ScorerManifest("llm_judge", "A model grades the answer against a rubric, repeated, "
                   "through the gateway.", judge.LlmJudge,
                   params({"rubric": {"type": "string", "minLength": 1},
                           "model": {"type": "string", "minLength": 1},
                           "repeats": {"type": "integer", "minimum": 1, "maximum": 10},
                           "scale": {"type": "integer", "minimum": 2, "maximum": 10},
                           "timeout_s": {"type": "number", "exclusiveMinimum": 0},
                           "threshold": _UNIT}, required=["rubric", "model"]),
                   cheap=False),
    ScorerManifest("redteam_blocked", "Red-team cases: 1 when a guardrail blocked the "
                   "request (docs/adr/0018).", lambda p, c: BlockedScorer(), params({})),
    ScorerManifest("redteam_passed", "Red-team cases: 1 when the attack failed (blocked, "
                   "refused or resisted).", lambda p, c: PassedScorer(), params({})),
)


def register(registry: PluginRegistry) -> None:
    for manifest in MANIFESTS:
        registry.register_scorer(manifest)
