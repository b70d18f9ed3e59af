"""The denied_topics guardrail: whole-word, case/diacritic-insensitive matching with spans."""

from __future__ import annotations

import pytest

from pavedroad.guardrails.base import ScanContext
from pavedroad.guardrails.topics import MANIFEST, build, fold_with_offsets

CTX = ScanContext(direction="input")


def test_topics_and_keywords_match_with_original_spans() -> None:
    guard = build({
        "topics": [{"name": "competitors", "terms": ["Acme Corp", "globex"]},
                   {"name": "desserts", "terms": ["crème brûlée"]}],
        "keywords": ["project falcon"],
    })
    text = "Compare ACME\n  corp with Globex; CREME BRULEE and Project Falcon."
    found = [(f.category, f.detail, text[f.start:f.end]) for f in guard.scan(text, CTX)]  # type: ignore[misc]
    assert found == [
        ("DENIED_TOPIC", "topic=competitors", "ACME\n  corp"),
        ("DENIED_TOPIC", "topic=competitors", "Globex"),
        ("DENIED_TOPIC", "topic=desserts", "CREME BRULEE"),
        ("DENIED_KEYWORD", "topic=keywords", "Project Falcon"),
    ]


def test_whole_words_only() -> None:
    guard = build({"keywords": ["cat", "c++"]})
    assert guard.scan("concatenate the catalog", CTX) == []
    assert [f.start for f in guard.scan("a cat, and C++!", CTX)] == [2, 11]


def test_longest_term_wins_and_empty_config_finds_nothing() -> None:
    guard = build({"topics": [{"name": "t", "terms": ["acme", "acme corp"]}]})
    (finding,) = guard.scan("acme corp", CTX)
    assert (finding.start, finding.end) == (0, 9)
    assert build({}).scan("anything", CTX) == []


def test_folding_keeps_offsets() -> None:
    folded, offsets = fold_with_offsets("Ça  va")
    assert folded == "ca va"
    assert len(offsets) == len(folded) and offsets[-1] == 5


@pytest.mark.parametrize(
    "params",
    [{"topic": []}, {"topics": [{"name": "x"}]}, {"topics": [{"name": "x", "terms": "abc"}]},
     {"keywords": "abc"}],
)
def test_bad_parameters_are_rejected(params: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build(params)


def test_manifest() -> None:
    assert MANIFEST.name == "denied_topics"
    assert MANIFEST.redacts and MANIFEST.latency_class == "fast"
