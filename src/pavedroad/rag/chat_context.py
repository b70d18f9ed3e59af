"""What retrieval inside a chat request shares between the pipeline and the grounded model.

The `retrieval` field of a chat request is parsed here. The retrieval stage searches
once and publishes the hits in `RETRIEVED`, a context variable scoped to the request's
task, so the grounded model answers from exactly the passages the response cites
instead of searching again (docs/adr/0015).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, get_args, runtime_checkable

from pavedroad.core.errors import InvalidRequest
from pavedroad.core.types import Caller
from pavedroad.rag.types import Hit, SearchMode

MODES = get_args(SearchMode)
MAX_COLLECTIONS = 8
DEFAULT_K = 5


@dataclass(frozen=True, slots=True)
class RetrievalSpec:
    collections: tuple[str, ...]
    k: int = DEFAULT_K
    mode: SearchMode = "hybrid"
    filters: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Retrieved:
    spec: RetrievalSpec
    query: str
    hits: tuple[Hit, ...]


RETRIEVED: ContextVar[Retrieved | None] = ContextVar("pavedroad_retrieved", default=None)


class CallerRetriever(Protocol):
    """`rag.types.Retriever` plus the caller whose app must be allowed the collection
    (`RetrievalService.search` implements it; None: trusted in-process code)."""

    async def search(self, collection: str, query: str, *, k: int = 10,
                     mode: SearchMode = "hybrid", filters: Mapping[str, Any] | None = None,
                     caller: Caller | None = None) -> list[Hit]: ...


@runtime_checkable
class UsesRetriever(Protocol):
    """A provider that answers from collections (the grounded model): the gateway hands it
    the retrieval service once both exist."""

    def bind_retriever(self, retriever: CallerRetriever) -> None: ...


def parse_spec(value: Any) -> RetrievalSpec:
    """The request's `retrieval` field, checked; errors name the field to fix."""
    if not isinstance(value, Mapping):
        raise InvalidRequest('`retrieval` must be an object, e.g. {"collections": ["handbook"]}',
                             param="retrieval")
    unknown = set(value) - {"collections", "k", "mode", "filters"}
    if unknown:
        raise InvalidRequest(f"`retrieval` has unknown fields: {', '.join(sorted(unknown))} "
                             "(known: collections, k, mode, filters)", param="retrieval")
    collections = value.get("collections")
    if isinstance(collections, str):
        collections = [collections]
    if (not isinstance(collections, Sequence) or not collections
            or not all(isinstance(c, str) and c.strip() for c in collections)):
        raise InvalidRequest("`retrieval.collections` must be a non-empty list of collection "
                             "names or ids", param="retrieval.collections")
    if len(collections) > MAX_COLLECTIONS:
        raise InvalidRequest(f"`retrieval.collections` names at most {MAX_COLLECTIONS} "
                             "collections", param="retrieval.collections")
    k = value.get("k", DEFAULT_K)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 50:
        raise InvalidRequest("`retrieval.k` must be an integer between 1 and 50",
                             param="retrieval.k")
    mode = value.get("mode", "hybrid")
    if mode not in MODES:
        raise InvalidRequest(f"`retrieval.mode` must be one of {', '.join(MODES)}",
                             param="retrieval.mode")
    filters = value.get("filters")
    if filters is not None and not isinstance(filters, Mapping):
        raise InvalidRequest("`retrieval.filters` must be an object of field: value",
                             param="retrieval.filters")
    return RetrievalSpec(tuple(dict.fromkeys(collections)), k, mode, filters)


def question_of(body: Mapping[str, Any]) -> str:
    """The text of the last user message: what retrieval searches for."""
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if not isinstance(message, Mapping) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(p["text"] for p in content
                            if isinstance(p, Mapping) and isinstance(p.get("text"), str))
    return ""


async def search_all(retriever: CallerRetriever, spec: RetrievalSpec, query: str, *,
                     caller: Caller | None) -> list[Hit]:
    """The best `spec.k` hits over every collection named (scores of one mode compare)."""
    hits: list[Hit] = []
    for collection in spec.collections:
        hits += await retriever.search(collection, query, k=spec.k, mode=spec.mode,
                                       filters=spec.filters, caller=caller)
    hits.sort(key=lambda h: -h.score)
    return hits[:spec.k]
