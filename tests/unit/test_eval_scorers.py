"""Built-in scorers on cases whose right score is known, adversarial ones included."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from pavedroad.core.errors import EvalConfigInvalid
from pavedroad.evals.scorers import build_scorers
from pavedroad.evals.scorers.text import char_ngram_cosine, split_claims, token_set_similarity
from pavedroad.evals.types import Case, Output, Score, ScorerContext

CONTEXTS = ("The Eiffel Tower is 330 metres tall and stands in Paris.",
            "Refunds are issued within 14 days of the return being received.")


def score(spec: Any, text: str, *, expected: Any = None, contexts: tuple[str, ...] = (),
          metadata: Mapping[str, Any] | None = None, **output: Any) -> Score:
    [scorer] = build_scorers([spec], context=ScorerContext())
    case = Case("c1", {"q": "x"}, expected=expected, contexts=contexts,
                metadata=dict(metadata or {}))
    return asyncio.run(scorer.score(case, Output(text, **output)))


def test_exact_normalises_whitespace_and_case_but_not_words() -> None:
    assert score("exact", "  Paris\n", expected="paris").passed
    assert score("exact", "Paris, France", expected="Paris").value == 0.0
    assert not score({"name": "exact", "case_sensitive": True}, "paris", expected="Paris").passed
    assert score("exact", "Lyon", expected=["Paris", "Lyon"]).passed


def test_contains_reports_the_share_found() -> None:
    result = score("contains", "Paris is big", expected=["paris", "tower", "big", "river"])
    assert result.value == 0.5 and not result.passed
    assert "tower" in result.reason
    assert score({"name": "contains", "values": ["x", "big"], "mode": "any"}, "Paris is big").passed


def test_regex_and_a_bad_pattern_is_a_config_error() -> None:
    assert score({"name": "regex", "pattern": r"\b\d{3} metres\b"}, "It is 330 metres").passed
    assert not score("regex", "no digits", expected=r"\d+").passed
    with pytest.raises(EvalConfigInvalid, match="bad pattern"):
        score({"name": "regex", "pattern": "("}, "x")


def test_json_schema_validity() -> None:
    schema = {"type": "object", "required": ["age"], "properties": {"age": {"type": "integer"}}}
    spec = {"name": "json_schema", "schema": schema}
    assert score(spec, '```json\n{"age": 3}\n```').passed
    wrong = score(spec, '{"age": "three"}')
    assert not wrong.passed and "age" in wrong.reason
    assert not score(spec, "{age: 3}").passed
    assert score("json_schema", '{"a": 1}', metadata={"schema": {"type": "object"}}).passed


def test_numeric_tolerance() -> None:
    assert score("numeric", "It is about 1,000.4 km", expected=1000).value == 0.0
    assert score({"name": "numeric", "abs_tol": 0.5}, "It is about 1,000.4 km",
                 expected=1000).passed
    assert score({"name": "numeric", "rel_tol": 0.1}, "95", expected="100").passed
    assert score("numeric", "no number", expected=3).reason == "no number in the answer"


def test_similarity_methods() -> None:
    assert token_set_similarity("the cat sat", "the cat sat") == 1.0
    assert token_set_similarity("a b", "c d") == 0.0
    assert token_set_similarity("cat sat mat", "cat sat hat") == pytest.approx(2 / 3)
    assert char_ngram_cosine("colour", "colour") == pytest.approx(1.0)
    assert 0.3 < char_ngram_cosine("colour", "color") < 0.9
    spec = {"name": "similarity", "method": "char_ngram", "threshold": 0.5}
    assert score(spec, "The colour is red", expected="the color is red").passed


def test_groundedness_supported_claims() -> None:
    answer = "The Eiffel Tower is 330 metres tall. Refunds are issued within 14 days."
    result = score("groundedness", answer, contexts=CONTEXTS)
    assert result.value == 1.0 and result.passed
    assert [c["supported_by"] for c in result.details["claims"]] == [0, 1]


def test_groundedness_rejects_a_wrong_number_and_an_invented_claim() -> None:
    answer = "The Eiffel Tower is 300 metres tall. It was painted gold in 2020."
    result = score("groundedness", answer, contexts=CONTEXTS)
    assert result.value == 0.0 and not result.passed


def test_citing_a_source_that_does_not_contain_the_claim_is_not_grounded() -> None:
    # Adversarial: a confident citation of a real passage that says something else.
    answer = "Refunds are issued within 30 days [2]. The tower stands in Paris [2]."
    grounded = score("groundedness", answer, contexts=CONTEXTS)
    assert grounded.value == 0.5 and not grounded.passed
    cited = score("citation_coverage", answer, contexts=CONTEXTS)
    assert cited.value == 0.0  # [2] says 14 days, and says nothing of the tower
    assert cited.reason.startswith("cited source does not support it: Refunds")


def test_citation_coverage_counts_only_correct_citations() -> None:
    answer = ("The Eiffel Tower is 330 metres tall [1]. Refunds are issued within 14 days [1]. "
              "It stands in Paris.")
    result = score("citation_coverage", answer, contexts=CONTEXTS)
    assert result.value == pytest.approx(1 / 3)  # right source / wrong source / no marker
    good = "The Eiffel Tower is 330 metres tall [1]. Refunds are issued within 14 days [2]."
    assert score("citation_coverage", good, contexts=CONTEXTS).value == 1.0


def test_citation_markers_may_name_context_ids() -> None:
    answer = "Refunds are issued within 14 days [policy]."
    result = score("citation_coverage", answer, contexts=CONTEXTS,
                   metadata={"context_ids": ["tower", "policy"]})
    assert result.passed
    assert score("citation_coverage", answer, contexts=CONTEXTS,
                 metadata={"context_ids": ["policy", "tower"]}).value == 0.0


def test_claims_skip_filler() -> None:
    assert split_claims("Sure! The tower is tall.\n- It is in Paris.") == [
        "The tower is tall.", "It is in Paris."]


def test_refusal_expectation() -> None:
    assert score("refusal", "Paris.").passed
    assert not score("refusal", "I'm sorry, but I can't help with that.").passed
    assert score({"name": "refusal", "expect": "refuse"}, "I cannot do that.").passed
    assert score("refusal", "", metadata={"should_refuse": True}, status=400,
                 error_code="guardrail_blocked").passed


def test_latency_and_cost_thresholds() -> None:
    assert score({"name": "latency", "max_ms": 100}, "x", latency_ms=50).passed
    slow = score({"name": "latency", "max_ms": 100}, "x", latency_ms=400)
    assert slow.value == 0.25 and not slow.passed
    assert score({"name": "cost", "max_usd": 0.01}, "x", cost_usd=0.002).passed
    unpriced = score({"name": "cost", "max_usd": 0.01}, "x")
    assert not unpriced.passed and "no cost" in unpriced.reason


def test_parameters_are_checked_against_the_manifest() -> None:
    with pytest.raises(EvalConfigInvalid, match="threshold"):
        build_scorers([{"name": "similarity", "threshold": 2}], context=ScorerContext())
    with pytest.raises(EvalConfigInvalid, match="unknown scorer 'nope'"):
        build_scorers(["nope"], context=ScorerContext())
    with pytest.raises(EvalConfigInvalid, match="'max_ms' is a required"):
        build_scorers(["latency"], context=ScorerContext())
    with pytest.raises(EvalConfigInvalid, match="listed twice"):
        build_scorers(["exact", "exact"], context=ScorerContext())
