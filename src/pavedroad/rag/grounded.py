"""The grounded answer composer: quotes the sentences of retrieved passages that best cover
a question, each with a citation marker, then lists the sources. Nothing is generated, so
nothing can be invented: every sentence of an answer occurs verbatim in a cited passage.

Selection is greedy coverage of the question's terms (weighted by how rare each is among
the candidate sentences), so a second quote is chosen for what the first one missed.
When the best passages share too little of the question, the answer says plainly that
nothing was found (docs/adr/0015).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pavedroad.rag.bm25 import analyze
from pavedroad.rag.types import Hit

MAX_SENTENCES = 4
MIN_COVERAGE = 0.34  # share of the question's term weight the quotes must cover
_LINE_MARKER = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+(?:\[[ xX]\]\s+)?|\d{1,3}[.)]\s+|>\s*)+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[*`_A-Z0-9])")
_MIN_WORDS = 4
_TABLE_RULE = re.compile(r"^\|?[\s:|-]+\|?$")
# Words that say how a question is asked, not what it is about.
_QUESTION_WORDS = frozenset(analyze(
    "work works working use used using happen happens mean means need get make way tell "
    "explain about should would could much many did done please there"))


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str  # verbatim slice of the hit's text
    hit: int  # index of the hit in the retrieved list
    position: int  # character offset of the sentence in the hit's text
    terms: frozenset[str]


@dataclass(frozen=True, slots=True)
class Quote:
    text: str
    number: int  # the citation marker, [number]
    hit: Hit
    position: int


@dataclass(frozen=True, slots=True)
class GroundedAnswer:
    text: str
    quotes: tuple[Quote, ...]
    sources: tuple[Hit, ...]  # cited hits; sources[i] is marker [i + 1]
    found: bool


def sentences(text: str, hit: int = 0) -> list[Sentence]:
    """The quotable sentences of a passage: paragraphs (wrapped lines joined) and list items
    split at sentence ends, their markers left out, and table rows whole; headings, code,
    HTML and fragments are skipped. A sentence's text is its slice of the passage with
    whitespace collapsed."""
    out: list[Sentence] = []
    for start, body, row in _blocks(text):
        cursor = 0
        for piece in [body] if row else _SENTENCE.split(body):
            at = body.index(piece, cursor)
            cursor = at + len(piece)
            clean = " ".join(piece.split())
            if len(clean.split()) < _MIN_WORDS:
                continue
            lead = len(piece) - len(piece.lstrip())
            out.append(Sentence(clean, hit, start + at + lead, frozenset(analyze(clean))))
    return out


def _blocks(text: str) -> list[tuple[int, str, bool]]:
    """(offset, text, is a table row) of each block: a paragraph, a list item (marker
    removed) or a table row."""
    blocks: list[tuple[int, str, bool]] = []
    current: tuple[int, int] | None = None  # start, end of the paragraph being read
    offset = 0
    in_code = False
    for line in text.splitlines(keepends=True):
        start, offset = offset, offset + len(line)
        stripped = line.strip()
        fence = stripped.startswith(("```", "~~~"))
        in_code = in_code != fence
        row = not in_code and stripped.startswith("|") and not _TABLE_RULE.match(stripped)
        # Headings are titles, not statements: they are cited as the section instead.
        skip = (fence or in_code or row or not stripped or stripped.startswith(("|", "<", "#"))
                or line.startswith(("    ", "\t")))
        marker = None if skip else _LINE_MARKER.match(line)
        if current is not None and (skip or marker is not None):
            blocks.append((current[0], text[current[0]:current[1]], False))
            current = None
        if row:
            blocks.append((start, line.rstrip("\n"), True))
        if skip:
            continue
        if current is None:
            current = (start + (marker.end() if marker else 0), offset)
        else:
            current = (current[0], offset)
    if current is not None:
        blocks.append((current[0], text[current[0]:current[1]], False))
    return blocks


def _weights(question: Sequence[str], candidates: Sequence[Sentence]) -> dict[str, float]:
    n = len(candidates)
    weights: dict[str, float] = {}
    for term in set(question):
        df = sum(1 for s in candidates if term in s.terms)
        weights[term] = math.log(1.0 + (n + 1) / (df + 0.5))
    return weights


def select(question: str, hits: Sequence[Hit], *, max_sentences: int = MAX_SENTENCES,
           min_coverage: float = MIN_COVERAGE) -> list[Sentence]:
    """The sentences that best cover `question`, best first; [] when they cover too little."""
    terms = [t for t in analyze(question) if t not in _QUESTION_WORDS]
    candidates = [s for i, hit in enumerate(hits) for s in sentences(hit.text, i)]
    if not terms or not candidates:
        return []
    weights = _weights(terms, candidates)
    total = sum(weights.values())
    covered: set[str] = set()
    chosen: list[Sentence] = []
    seen: set[str] = set()
    while len(chosen) < max_sentences:
        best: tuple[float, Sentence] | None = None
        for sentence in candidates:
            if sentence.text in seen:
                continue
            matched = sentence.terms & weights.keys()
            if not matched:
                continue
            new = sum(weights[t] for t in matched - covered)
            again = sum(weights[t] for t in matched & covered)
            # New terms count fully, repeated ones a little; long sentences and lower-ranked
            # passages pay a small price, so short, on-topic quotes from top hits win ties.
            gain = (new + 0.25 * again) / (1.0 + len(sentence.terms) / 60.0)
            gain *= 1.0 / (1.0 + 0.1 * sentence.hit)
            if best is None or gain > best[0]:
                best = (gain, sentence)
        if best is None or (chosen and best[0] < 0.2 * total / max(len(terms), 1)):
            break
        chosen.append(best[1])
        seen.add(best[1].text)
        covered |= best[1].terms & weights.keys()
    coverage = sum(weights[t] for t in covered) / total if total else 0.0
    return chosen if coverage >= min_coverage else []


def compose(question: str, hits: Sequence[Hit], *, collection: str,
            max_sentences: int = MAX_SENTENCES,
            min_coverage: float = MIN_COVERAGE) -> GroundedAnswer:
    """An answer quoting `hits`, or a plain statement that `collection` has nothing."""
    chosen = select(question, hits, max_sentences=max_sentences, min_coverage=min_coverage)
    if not chosen:
        topic = " ".join(question.split())
        topic = topic if len(topic) <= 120 else topic[:117] + "..."
        return GroundedAnswer(f'I found nothing in {collection} about "{topic}".', (), (), False)
    # Markers follow retrieval rank; quotes read in source order within each passage.
    cited = sorted({s.hit for s in chosen})
    number = {hit: i + 1 for i, hit in enumerate(cited)}
    quotes = tuple(Quote(s.text, number[s.hit], hits[s.hit], s.position)
                   for s in sorted(chosen, key=lambda s: (number[s.hit], s.position)))
    sources = tuple(hits[i] for i in cited)
    lines = [f"{q.text} [{q.number}]" for q in quotes]
    lines += ["", "Sources:"]
    lines += [f"[{i}] {source_label(hit)}" for i, hit in enumerate(sources, start=1)]
    return GroundedAnswer("\n".join(lines), quotes, sources, True)


def source_label(hit: Hit) -> str:
    citation = hit.citation
    return f"{citation.source} \u2014 {citation.section}" if citation.section else citation.source


def citation_payload(number: int, hit: Hit) -> dict[str, Any]:
    """One entry of a response's top-level `citations` list."""
    c = hit.citation
    return {"index": number, "chunk_id": hit.chunk_id, "collection": c.collection,
            "document_id": c.document_id, "source": c.source, "title": c.title,
            "section": c.section, "start": c.start, "end": c.end,
            "score": round(hit.score, 6)}
