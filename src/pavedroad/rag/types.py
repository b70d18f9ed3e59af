"""The retrieval contract shared by ingestion, search, the grounded model and chat.

Kept small and free of I/O so every part of `rag/` (and the services that use it) can
depend on it without depending on each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

SearchMode = Literal["hybrid", "bm25", "vector"]


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a chunk came from: enough for a reader to open the source at the right place."""

    collection: str
    document_id: str
    source: str  # the path (relative to the ingested root) or URL
    title: str
    section: str  # heading path, e.g. "Install > From source"
    start: int  # character offsets into the document's extracted text
    end: int


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: str
    text: str
    score: float
    citation: Citation
    metadata: Mapping[str, Any] = field(default_factory=dict)


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed width."""

    name: str
    dimensions: int

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


@runtime_checkable
class QueryEmbedder(Protocol):
    """An embedder whose model embeds a search query differently from the passages it is
    matched against (bge's query instruction, e5's `query:` prefix). `embed` stays the
    passage side, so ingestion needs no change; symmetric embedders just lack this."""

    async def embed_queries(self, queries: Sequence[str]) -> npt.NDArray[np.float32]: ...


async def embed_queries(embedder: Embedder,
                        queries: Sequence[str]) -> npt.NDArray[np.float32]:
    """Vectors for search queries: the embedder's query form when it has one."""
    if isinstance(embedder, QueryEmbedder):
        return await embedder.embed_queries(queries)
    return await embedder.embed(queries)


class Retriever(Protocol):
    async def search(
        self,
        collection: str,
        query: str,
        *,
        k: int = 10,
        mode: SearchMode = "hybrid",
        filters: Mapping[str, Any] | None = None,
    ) -> list[Hit]: ...


class Reranker(Protocol):
    """Reorders the best candidates of a search (e.g. with a cross-encoder); optional."""

    async def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]: ...
