"""One collection's in-process search index: BM25, exact vector search, fusion, filters.

Immutable once built: ingestion builds a new one and swaps it in, so searches never see
a half-updated index and need no lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from pavedroad.core.errors import InvalidRequest
from pavedroad.rag.bm25 import BM25Index
from pavedroad.rag.fusion import PLAIN_RRF, Fusion, fuse
from pavedroad.rag.types import Citation, Hit, SearchMode

FIELDS = ("source", "title", "section", "document_id")


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    """What the index keeps of a chunk (the store has the rest)."""

    chunk_id: str
    document_id: str
    text: str
    source: str
    title: str
    section: str
    start: int
    end: int
    metadata: Mapping[str, Any]


def index_text(title: str, section: str, text: str) -> str:
    """What BM25 and the embedder see: the section path and title give a chunk the
    context its own words lack ("Install > From source")."""
    return f"{title}\n{section}\n{text}"


@dataclass(slots=True)
class _Codes:
    values: list[str]
    codes: npt.NDArray[np.int32]


def _codes(values: Sequence[str | None]) -> _Codes:
    lookup: dict[str, int] = {}
    codes = np.fromiter((-1 if v is None else lookup.setdefault(v, len(lookup)) for v in values),
                        dtype=np.int32, count=len(values))
    return _Codes(list(lookup), codes)


def _matches(name: str, wanted: str, value: str) -> bool:
    if name == "source" and wanted.endswith("/"):
        return value.startswith(wanted)
    if name == "section":
        return value == wanted or value.startswith(f"{wanted} > ")
    return value == wanted


@dataclass(slots=True)
class CollectionIndex:
    collection: str
    version: int
    chunks: list[IndexedChunk]
    vectors: npt.NDArray[np.float32]  # one L2-normalised row per chunk
    bm25: BM25Index
    _codes: dict[str, _Codes] = field(default_factory=dict)
    _rows: dict[str, int] | None = None

    @classmethod
    def build(cls, collection: str, version: int, chunks: list[IndexedChunk],
              vectors: npt.NDArray[np.float32]) -> CollectionIndex:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        bm25 = BM25Index.build(index_text(c.title, c.section, c.text) for c in chunks)
        return cls(collection, version, chunks, vectors, bm25)

    def __len__(self) -> int:
        return len(self.chunks)

    def _field(self, name: str) -> _Codes:
        found = self._codes.get(name)
        if found is None:
            if name in FIELDS:
                found = _codes([getattr(c, name) for c in self.chunks])
            else:
                found = _codes([_scalar(c.metadata.get(name)) for c in self.chunks])
            self._codes[name] = found
        return found

    def mask(self, filters: Mapping[str, Any] | None) -> npt.NDArray[np.bool_] | None:
        """Rows every filter accepts; None: no filter. A list value accepts any of its
        items; `source` ending in "/" is a folder; `section` matches its sub-sections."""
        if not filters:
            return None
        out = np.ones(len(self.chunks), dtype=bool)
        for name, raw in filters.items():
            wanted = raw if isinstance(raw, list) else [raw]
            if not wanted or not all(isinstance(w, str | int | float | bool) for w in wanted):
                raise InvalidRequest(f"filter {name!r} must be a string, number, boolean or a "
                                     "non-empty list of them", param=f"filters.{name}")
            codes = self._field(name)
            texts = [_scalar(w) for w in wanted]
            ids = [i for i, value in enumerate(codes.values)
                   if any(_matches(name, str(w), value) for w in texts)]
            out &= np.isin(codes.codes, np.asarray(ids, dtype=np.int32))
        return out

    def rank_bm25(self, query: str, depth: int,
                  mask: npt.NDArray[np.bool_] | None) -> list[tuple[int, float]]:
        scores = self.bm25.scores(query)
        if mask is not None:
            scores[~mask] = 0.0
        return _top(scores, depth, positive=True)

    def rank_vector(self, vector: npt.NDArray[np.float32], depth: int,
                    mask: npt.NDArray[np.bool_] | None) -> list[tuple[int, float]]:
        if not len(self.chunks):
            return []
        scores = self.vectors @ vector
        if mask is not None:
            scores[~mask] = -np.inf
        return [(i, s) for i, s in _top(scores, depth) if s != -np.inf]

    def rows(self, ranked: list[tuple[str, float]],
             mask: npt.NDArray[np.bool_] | None) -> list[tuple[int, float]]:
        """Chunk ids ranked elsewhere (pgvector) as rows, dropping what `mask` refuses."""
        if self._rows is None:
            self._rows = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        found = [(self._rows.get(chunk_id, -1), score) for chunk_id, score in ranked]
        return [(row, score) for row, score in found
                if row >= 0 and (mask is None or mask[row])]

    def search(self, query: str, vector: npt.NDArray[np.float32] | None, *, k: int,
               mode: SearchMode, filters: Mapping[str, Any] | None = None,
               vector_ranked: list[tuple[str, float]] | None = None,
               fusion: Fusion = PLAIN_RRF,
               ) -> list[tuple[int, float]]:
        """(row, score) best first: BM25 score, cosine similarity, or fused score (`fusion`).
        `vector_ranked`: the vector ranking made elsewhere (chunk id, cosine), used instead
        of this index's own vectors."""
        mask = self.mask(filters)
        if mode == "bm25":
            return self.rank_bm25(query, k, mask)
        depth = max(fusion.candidates, k)
        if vector_ranked is not None:
            semantic = self.rows(vector_ranked, mask)
        elif vector is not None:
            semantic = self.rank_vector(vector, k if mode == "vector" else depth, mask)
        else:
            raise ValueError("vector and hybrid search need the query's embedding")
        if mode == "vector":
            return semantic[:k]
        return fuse(self.rank_bm25(query, depth, mask), semantic, fusion, limit=k)

    def hit(self, row: int, score: float) -> Hit:
        chunk = self.chunks[row]
        return Hit(chunk.chunk_id, chunk.text, float(score),
                   Citation(self.collection, chunk.document_id, chunk.source, chunk.title,
                            chunk.section, chunk.start, chunk.end),
                   chunk.metadata)


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _top(scores: npt.NDArray[Any], depth: int, *,
         positive: bool = False) -> list[tuple[int, float]]:
    n = len(scores)
    if n == 0 or depth <= 0:
        return []
    depth = min(depth, n)
    rows = np.argpartition(-scores, depth - 1)[:depth] if depth < n else np.arange(n)
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    return [(int(r), float(scores[r])) for r in rows if not positive or scores[r] > 0]
