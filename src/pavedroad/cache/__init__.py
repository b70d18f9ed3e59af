"""The response cache: exact-match answers and an optional semantic cache, per tenant and app.

See docs/adr/0009-response-cache.md. `build_response_cache` assembles the stage from the
`cache:` settings; the gateway puts it first among the pipeline stages.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from pavedroad.cache.policy import AppCacheSettings, CachePolicy, Directives, app_cache_settings
from pavedroad.cache.semantic import (
    Embedder,
    MemorySemanticIndex,
    RouterEmbedder,
    SemanticIndex,
)
from pavedroad.cache.stage import AppSettings, ResponseCache
from pavedroad.cache.store import CacheStore, MemoryCacheStore
from pavedroad.config.cache import CacheConfig
from pavedroad.routing.router import Router

__all__ = [
    "AppCacheSettings",
    "CachePolicy",
    "CacheStore",
    "Directives",
    "Embedder",
    "MemoryCacheStore",
    "MemorySemanticIndex",
    "ResponseCache",
    "RouterEmbedder",
    "SemanticIndex",
    "app_cache_settings",
    "build_response_cache",
]


def build_response_cache(
    config: CacheConfig, router: Router, *, app_settings: AppSettings,
    registry: CollectorRegistry | None = None, store: CacheStore | None = None,
) -> ResponseCache:
    """The stage over `store` (default: in this process's memory); the semantic part only
    with an embedding model. Its index stays in each process even when `store` is shared."""
    if store is None:
        store = MemoryCacheStore(max_bytes=config.max_bytes,
                                 max_entry_bytes=config.max_entry_bytes)
    semantic = config.semantic
    index: SemanticIndex | None = None
    embedder: Embedder | None = None
    if semantic.embedding_model:
        index = MemorySemanticIndex(max_entries_per_scope=semantic.max_entries_per_scope,
                                    max_scopes=semantic.max_scopes)
        embedder = RouterEmbedder(router, semantic.embedding_model)
    return ResponseCache(config, store=store, router=router, app_settings=app_settings,
                         index=index, embedder=embedder, registry=registry)
