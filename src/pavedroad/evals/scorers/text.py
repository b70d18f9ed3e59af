"""Text scorers without a model: similarity, groundedness and citation coverage.

Grounding is lexical on purpose (docs/adr/0017): a claim is supported only when a single
context passage holds (nearly) all of its content words and every number in it. That is
strict — a paraphrase may fail — but it never credits an answer for citing a passage that
does not say what the answer claims.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pavedroad.evals.scorers.base import expected_texts, no_expected
from pavedroad.evals.types import Case, Output, Score, ScorerContext

_WORD = re.compile(r"[^\W_]+(?:[.,'][^\W_]+)*", re.UNICODE)
_MARKER = re.compile(r"\[\^?([\w.\-]+(?:\s*,\s*[\w.\-]+)*)\]")
_SENTENCE = re.compile(r"\n+\s*(?:[-*•]\s+|\d+[.)]\s+)?|(?<=[.!?])\s+(?=\S)")
_DIGIT = re.compile(r"\d")
_STOP = """
a an the and or but if then else of to in on at by for with from as into onto about over
under is are was were be been being am do does did done have has had having it its it's this
that these those there here which who whom whose what when where why how not no nor so such
than too very can could should would may might must will shall also just only own same
other some any each both all more most few i me my we our you your he him his she her they
them their us yes according per via whereas while because since sure okay ok well
certainly hello hi thanks note
"""
STOPWORDS = frozenset(_STOP.split())


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def stem(word: str) -> str:
    """A light suffix strip so `returns` meets `returned`; numbers are left alone."""
    if _DIGIT.search(word) or len(word) <= 4:
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    return {stem(w) for w in words(_MARKER.sub(" ", text)) if w not in STOPWORDS}


def split_claims(text: str) -> list[str]:
    """Sentences and list items that say something (at least one content word)."""
    parts = (p.strip() for p in _SENTENCE.split(text) if p and p.strip())
    return [p for p in parts if content_words(p)]


def markers(claim: str) -> list[str]:
    """Citation markers: `[1]`, `[2, 3]`, `[^1]`, `[doc-a]`."""
    return [ref.strip() for m in _MARKER.finditer(claim) for ref in m.group(1).split(",")]


def coverage(claim: str, passage: str) -> float:
    """The share of the claim's content words found in the passage; 0 when a number of
    the claim is missing from it (numbers are where answers go wrong)."""
    needed = content_words(claim)
    if not needed:
        return 1.0
    have = content_words(passage)
    if any(_DIGIT.search(w) and w not in have for w in needed):
        return 0.0
    return len(needed & have) / len(needed)


def token_set_similarity(a: str, b: str) -> float:
    """Dice coefficient of the two word sets."""
    left, right = set(words(a)), set(words(b))
    if not left and not right:
        return 1.0
    return 2 * len(left & right) / (len(left) + len(right))


def char_ngram_cosine(a: str, b: str, n: int = 3) -> float:
    """Cosine of character n-gram counts (whitespace-normalised, case-folded)."""
    def grams(text: str) -> Counter[str]:
        t = f" {' '.join(text.casefold().split())} "
        return Counter(t[i:i + n] for i in range(max(1, len(t) - n + 1)))

    left, right = grams(a), grams(b)
    dot = sum(count * right[g] for g, count in left.items())
    norm = math.sqrt(sum(c * c for c in left.values())) * math.sqrt(
        sum(c * c for c in right.values()))
    return dot / norm if norm else 0.0


class Similarity:
    """Similarity to the closest expected answer: `token_set` (word-set Dice) or
    `char_ngram` (cosine of character n-grams); passes at `threshold`."""

    name = "similarity"
    cheap = True

    def __init__(self, p: Mapping[str, Any], _: ScorerContext) -> None:
        self.method = str(p.get("method", "token_set"))
        self.n = int(p.get("n", 3))
        self.threshold = float(p.get("threshold", 0.7))

    def _similarity(self, a: str, b: str) -> float:
        if self.method == "char_ngram":
            return char_ngram_cosine(a, b, self.n)
        return token_set_similarity(a, b)

    async def score(self, case: Case, output: Output) -> Score:
        wanted = expected_texts(case.expected)
        if not wanted:
            return no_expected(self.name)
        value = max(self._similarity(output.text, w) for w in wanted)
        ok = value >= self.threshold
        return Score(self.name, value, ok,
                     reason="" if ok else f"similarity {value:.2f} < {self.threshold:.2f}")


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    claim: str
    supported_by: int | None  # index of the supporting passage
    cited: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        return {"claim": self.claim[:300], "supported_by": self.supported_by,
                "cited": list(self.cited)}


def best_passage(claim: str, passages: Sequence[str], min_coverage: float) -> int | None:
    scored = [(coverage(claim, p), i) for i, p in enumerate(passages)]
    best = max(scored, default=(0.0, -1))
    return best[1] if best[0] >= min_coverage else None


class Groundedness:
    """The share of the answer's claims that one context passage supports; passes when it
    is at least `threshold` (default: every claim)."""

    name = "groundedness"
    cheap = True

    def __init__(self, p: Mapping[str, Any], _: ScorerContext) -> None:
        self.min_coverage = float(p.get("min_coverage", 0.8))
        self.threshold = float(p.get("threshold", 1.0))

    async def score(self, case: Case, output: Output) -> Score:
        if not case.contexts:
            return Score(self.name, 0.0, False, reason="the case has no contexts")
        claims = split_claims(output.text)
        if not claims:
            return Score(self.name, 0.0, False, reason="the answer makes no claim")
        checks = [ClaimCheck(c, best_passage(c, case.contexts, self.min_coverage))
                  for c in claims]
        supported = sum(1 for c in checks if c.supported_by is not None)
        value = supported / len(checks)
        ok = value >= self.threshold
        first = next((c.claim for c in checks if c.supported_by is None), "")
        return Score(self.name, value, ok,
                     reason="" if ok else f"unsupported: {first[:160]}",
                     details={"claims": [c.public() for c in checks]})


def resolve(ref: str, case: Case) -> int | None:
    """A citation marker to a context index: `[n]` counts from 1; other markers name the
    case's `metadata.context_ids`."""
    ids = case.metadata.get("context_ids")
    if isinstance(ids, list) and ref in ids:
        return ids.index(ref)
    if ref.isdigit() and 1 <= int(ref) <= len(case.contexts):
        return int(ref) - 1
    return None


class CitationCoverage:
    """The share of claims that carry a citation resolving to a given source which
    supports the claim; a citation of the wrong source counts as none."""

    name = "citation_coverage"
    cheap = True

    def __init__(self, p: Mapping[str, Any], _: ScorerContext) -> None:
        self.min_coverage = float(p.get("min_coverage", 0.8))
        self.threshold = float(p.get("threshold", 1.0))

    def _check(self, claim: str, case: Case) -> ClaimCheck:
        refs = tuple(markers(claim))
        for ref in refs:
            index = resolve(ref, case)
            if index is not None and coverage(claim, case.contexts[index]) >= self.min_coverage:
                return ClaimCheck(claim, index, refs)
        return ClaimCheck(claim, None, refs)

    async def score(self, case: Case, output: Output) -> Score:
        claims = split_claims(output.text)
        if not claims:
            return Score(self.name, 0.0, False, reason="the answer makes no claim")
        checks = [self._check(c, case) for c in claims]
        covered = sum(1 for c in checks if c.supported_by is not None)
        value = covered / len(checks)
        ok = value >= self.threshold
        bad = next((c for c in checks if c.supported_by is None), None)
        reason = ""
        if bad is not None and not ok:
            why = "no citation" if not bad.cited else "cited source does not support it"
            reason = f"{why}: {bad.claim[:160]}"
        return Score(self.name, value, ok, reason=reason,
                     details={"claims": [c.public() for c in checks]})
