"""BM25 (Okapi) over an inverted index held in numpy arrays.

Postings are sorted by term, with each posting's BM25 weight computed once at build time,
so a query is one vectorised add per query term (see docs/adr/0014-retrieval.md for why
this rather than `bm25s`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"\w+")
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "how",
    "i", "if", "in", "into", "is", "it", "its", "of", "on", "or", "so", "such", "that", "the",
    "their", "then", "there", "these", "they", "this", "to", "was", "what", "when", "where",
    "which", "who", "why", "will", "with", "do", "does", "can", "you", "your", "we", "our", "not",
    "no",
})


def _stem(word: str) -> str:
    """A light English suffix stripper: plural and common verb endings only, so that
    'deployments' meets 'deployment' without a stemming library's surprises."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4:
        return word[:-2]
    return word


def analyze(text: str) -> list[str]:
    """Text to index terms: case-folded words, stopwords dropped, lightly stemmed."""
    return [_stem(w) for w in _WORD.findall(text.casefold()) if w not in STOPWORDS]


@dataclass(slots=True)
class BM25Index:
    vocabulary: dict[str, int]
    offsets: npt.NDArray[np.int64]  # term t's postings: [offsets[t], offsets[t + 1])
    docs: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]
    size: int  # number of documents

    @classmethod
    def build(cls, texts: Iterable[str], *, k1: float = 1.2, b: float = 0.75) -> BM25Index:
        vocabulary: dict[str, int] = {}
        term_ids: list[int] = []
        lengths: list[int] = []
        for text in texts:
            terms = analyze(text)
            lengths.append(len(terms))
            term_ids.extend(vocabulary.setdefault(t, len(vocabulary)) for t in terms)
        return cls.from_terms(vocabulary, np.asarray(term_ids, dtype=np.int64),
                              np.asarray(lengths, dtype=np.int64), k1=k1, b=b)

    @classmethod
    def from_terms(cls, vocabulary: dict[str, int], term_ids: npt.NDArray[np.int64],
                   lengths: npt.NDArray[np.int64], *, k1: float = 1.2,
                   b: float = 0.75) -> BM25Index:
        """Build from every document's term ids laid end to end (`lengths` per document)."""
        n = len(lengths)
        doc_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
        keys = term_ids * max(n, 1) + doc_of
        unique, tf = np.unique(keys, return_counts=True)
        terms = unique // max(n, 1)
        docs = (unique % max(n, 1)).astype(np.int32)
        df = np.bincount(terms, minlength=len(vocabulary))
        offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(df, out=offsets[1:])
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        avg = float(lengths.mean()) if n else 1.0
        norm = k1 * (1 - b + b * lengths[docs] / max(avg, 1e-9))
        weights = (idf[terms] * tf * (k1 + 1) / (tf + norm)).astype(np.float32)
        return cls(vocabulary, offsets, docs, weights, n)

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """Every document's score for `query` (zero where no query term occurs)."""
        out = np.zeros(self.size, dtype=np.float32)
        for term in set(analyze(query)):
            t = self.vocabulary.get(term)
            if t is None:
                continue
            a, z = self.offsets[t], self.offsets[t + 1]
            out[self.docs[a:z]] += self.weights[a:z]
        return out

    def terms_known(self, query: str) -> Sequence[str]:
        return [t for t in analyze(query) if t in self.vocabulary]
