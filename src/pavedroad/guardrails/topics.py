"""The `denied_topics` guardrail: per-app denied topics and plain keyword lists.

A topic is a name plus the words and phrases that signal it. Matching is on whole words,
ignores case and diacritics ("Crème" matches "creme") and tolerates any run of whitespace
inside a phrase. Findings carry spans in the original text, so a policy may redact them.

Parameters (from the app's policy or config):

    topics:   [{"name": "competitors", "terms": ["acme corp", "globex"]}, ...]
    keywords: ["project falcon", "internal only"]
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pavedroad.guardrails.base import Finding, Manifest, ScanContext

NAME = "denied_topics"
TOPIC = "DENIED_TOPIC"
KEYWORD = "DENIED_KEYWORD"
_KEYWORD_LIST = "keywords"
_SPACES = re.compile(r"\s+")

MANIFEST = Manifest(
    name=NAME,
    description=(
        "Flags denied topics and keywords configured per app: whole-word, case- and "
        "diacritic-insensitive matching, with spans for redaction."
    ),
    directions=("input", "output"),
    latency_class="fast",
    parameters={
        "type": "object",
        "properties": {
            "topics": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "terms": {"type": "array", "items": {"type": "string", "minLength": 1}},
                    },
                    "required": ["name", "terms"],
                    "additionalProperties": False,
                },
                "default": [],
            },
            "keywords": {"type": "array", "items": {"type": "string", "minLength": 1}, "default": []},
        },
        "additionalProperties": False,
    },
    redacts=True,
)


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    terms: tuple[str, ...]


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """Case- and accent-folded text with whitespace runs collapsed, and for each of its
    characters the index of the original character it came from."""
    fast = _fold_one_to_one(text)
    if fast is not None:
        return fast
    out: list[str] = []
    offsets: list[int] = []
    last_space = False
    for index, char in enumerate(text):
        if char.isspace():
            if not last_space:
                out.append(" ")
                offsets.append(index)
            last_space = True
            continue
        last_space = False
        folded = _FOLDED.get(char)
        if folded is None:
            folded = _fold_char(char)
            if len(_FOLDED) < _FOLD_CACHE_LIMIT:
                _FOLDED[char] = folded
        if len(folded) == 1:
            out.append(folded)
            offsets.append(index)
        else:
            out.extend(folded)
            offsets.extend([index] * len(folded))
    return "".join(out), offsets


# Per-character folding is the same every time: a bounded cache turns Unicode normalisation of
# each character (~0.15 µs) into a dict lookup, which keeps non-ASCII text in the fast class.
_FOLDED: dict[str, str] = {}
_FOLD_CACHE_LIMIT = 20_000


_SPACE_RUN = re.compile(" {2,}")


def _fold_one_to_one(text: str) -> tuple[str, list[int]] | None:
    """The common case, every character folding to exactly one: one `translate` call."""
    table: dict[int, str] = {}
    for char in set(text):
        if char.isspace():
            table[ord(char)] = " "
            continue
        folded = _FOLDED.get(char)
        if folded is None:
            folded = _fold_char(char)
            if len(_FOLDED) < _FOLD_CACHE_LIMIT:
                _FOLDED[char] = folded
        if len(folded) != 1:
            return None
        table[ord(char)] = folded
    mapped = text.translate(table)
    if "  " not in mapped:
        return mapped, list(range(len(text)))
    pieces: list[str] = []
    offsets: list[int] = []
    pos = 0
    for run in _SPACE_RUN.finditer(mapped):  # keep the first space of each run
        pieces.append(mapped[pos : run.start() + 1])
        offsets.extend(range(pos, run.start() + 1))
        pos = run.end()
    pieces.append(mapped[pos:])
    offsets.extend(range(pos, len(mapped)))
    return "".join(pieces), offsets


def _fold_char(char: str) -> str:
    return "".join(part.casefold() for part in unicodedata.normalize("NFKD", char)
                   if not unicodedata.combining(part))


def _fold_term(term: str) -> str:
    return fold_with_offsets(term.strip())[0]


class DeniedTopicsGuardrail:
    manifest = MANIFEST

    def __init__(self, topics: Sequence[Topic] = (), *, keywords: Iterable[str] = ()) -> None:
        self._owner: dict[str, tuple[str, str]] = {}  # folded term -> (category, topic name)
        for topic in topics:
            for term in topic.terms:
                self._owner.setdefault(_fold_term(term), (TOPIC, topic.name))
        for keyword in keywords:
            self._owner.setdefault(_fold_term(keyword), (KEYWORD, _KEYWORD_LIST))
        self._owner.pop("", None)
        # Longest first, so "acme corp" wins over "acme" at the same position.
        terms = sorted(self._owner, key=len, reverse=True)
        alternation = "|".join(re.escape(term) for term in terms)
        self._pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)") if terms else None
        # ASCII text needs no folding beyond case, so its spans are the original's: match it
        # directly, with any whitespace run allowed where a term has a space.
        flexible = "|".join(re.escape(term).replace(r"\ ", r"\s+") for term in terms)
        self._ascii_pattern = re.compile(rf"(?<!\w)(?:{flexible})(?!\w)") if terms else None

    def scan(self, text: str, context: ScanContext) -> list[Finding]:
        if self._pattern is None or self._ascii_pattern is None or not text:
            return []
        if text.isascii():
            return [
                self._finding(_SPACES.sub(" ", match.group(0)), match.start(), match.end())
                for match in self._ascii_pattern.finditer(text.lower())
            ]
        folded, offsets = fold_with_offsets(text)
        return [
            self._finding(match.group(0), offsets[match.start()], offsets[match.end() - 1] + 1)
            for match in self._pattern.finditer(folded)
        ]

    def _finding(self, term: str, start: int, end: int) -> Finding:
        category, topic = self._owner[term]
        return Finding(guardrail=NAME, category=category, score=1.0, start=start, end=end,
                       detail=f"topic={topic}")


def build(params: Mapping[str, Any]) -> DeniedTopicsGuardrail:
    """The registry factory: validates the parameters the manifest describes."""
    unknown = set(params) - {"topics", "keywords"}
    if unknown:
        raise ValueError(f"unknown denied_topics parameters: {', '.join(sorted(unknown))}")
    topics: list[Topic] = []
    for raw in params.get("topics", []):
        if not isinstance(raw, Mapping) or not raw.get("name") or not raw.get("terms"):
            raise ValueError("each denied topic needs a name and a non-empty list of terms")
        terms = raw["terms"]
        if isinstance(terms, str) or not all(isinstance(term, str) for term in terms):
            raise ValueError(f"terms of topic {raw['name']!r} must be a list of strings")
        topics.append(Topic(name=str(raw["name"]), terms=tuple(terms)))
    keywords = params.get("keywords", [])
    if isinstance(keywords, str) or not all(isinstance(word, str) for word in keywords):
        raise ValueError("keywords must be a list of strings")
    return DeniedTopicsGuardrail(topics, keywords=keywords)
