"""The cache stage: answer from the cache, or let the request through and keep its answer.

It runs after model access is checked and before limits and budgets are reserved, so a
hit costs nothing and reaches no upstream. A hit sets `exchange.cache_hit` (metering
prices it at zero and the ledger records it). Writes happen off the answer's path, and
only for complete answers: never errors, never broken or abandoned streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter

from pavedroad.cache.entry import Entry
from pavedroad.cache.key import (
    NotCacheable,
    RouteFingerprints,
    Scope,
    SemanticQuery,
    exact_key,
    semantic_query,
)
from pavedroad.cache.policy import (
    AppCacheSettings,
    CachePolicy,
    Directives,
    app_cache_settings,
    skip_reason,
)
from pavedroad.cache.replay import StreamAssembler, cacheable_answer, replay_chunks
from pavedroad.cache.semantic import Embedder, SemanticIndex, Vector
from pavedroad.cache.store import CacheStore
from pavedroad.config.cache import CacheConfig
from pavedroad.core.errors import BackendUnavailable, InvalidRequest
from pavedroad.core.types import ChatRequest, ChatResponse
from pavedroad.routing.router import Router
from pavedroad.service.pipeline import (
    ChatResult,
    ChatStream,
    Exchange,
    Next,
    StreamFailure,
    StreamItem,
)

log = logging.getLogger("pavedroad.cache")

STATUS = "x-pavedroad-cache"
AGE = "x-pavedroad-cache-age"
KIND = "x-pavedroad-cache-kind"
SIMILARITY = "x-pavedroad-cache-similarity"
OUTAGE_LOG_SECONDS = 10.0  # a shared store that is down is logged this seldom, not per request

AppSettings = Callable[[str], Mapping[str, Any] | None]


@dataclass(slots=True)
class _Write:
    """Where a miss's answer goes once it is known to be complete."""

    key: bytes
    ttl: float
    query: SemanticQuery | None
    vector: Vector | None


class ResponseCache:
    def __init__(
        self,
        config: CacheConfig,
        *,
        store: CacheStore,
        router: Router,
        app_settings: AppSettings,
        index: SemanticIndex | None = None,
        embedder: Embedder | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._store = store
        self._router = router
        self._app_settings = app_settings
        self._index = index
        self._embedder = embedder
        self._clock = clock
        self._finish = frozenset(config.finish_reasons)
        self._fingerprints = RouteFingerprints(
            router.models, {name: dep.config for name, dep in router.deployments.items()})
        self._semantic_available = index is not None and embedder is not None
        self._default = CachePolicy.resolve(config, AppCacheSettings(),
                                            semantic_available=self._semantic_available)
        self._policies: dict[str, tuple[Mapping[str, Any], CachePolicy]] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._outage_logged = -OUTAGE_LOG_SECONDS
        registry = registry or CollectorRegistry()
        self._lookups = Counter(
            "pavedroad_cache_lookups", "Cache lookups by result (hit, miss, bypass) and kind.",
            ["result", "kind"], registry=registry)
        self._writes = Counter(
            "pavedroad_cache_writes", "Answers offered to the cache, by outcome.",
            ["outcome"], registry=registry)
        self._embed_errors = Counter(
            "pavedroad_cache_embedding_errors",
            "Semantic cache lookups skipped because the embedding model failed.",
            registry=registry)

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        request = exchange.request
        policy = self.policy(request)
        if not policy.enabled:
            return await call_next(exchange)
        directives = Directives.from_headers(request.headers)
        if (skip_reason(request.body, policy) is not None
                or not (directives.read or directives.write)
                or request.model in self._router.switches.models):
            return await self._bypass(exchange, call_next)
        scope = Scope.of(request.caller)
        route = self._fingerprints.of(request.model, headers=request.headers,
                                      caller=request.caller)
        try:
            key = exact_key(scope, request.model, route, request.body)
        except NotCacheable:
            return await self._bypass(exchange, call_next)
        if directives.read:
            entry = await self._fetch(key)
            if entry is not None and self._usable(entry, directives):
                return self._hit(exchange, entry, "exact")
        query = semantic_query(scope, request.model, route, request.body) \
            if policy.semantic else None
        vector = await self._embed(query, request) if query is not None else None
        if directives.read and query is not None and vector is not None:
            found = await self._semantic(scope, query, vector, policy, directives)
            if found is not None:
                return self._hit(exchange, found[0], "semantic", found[1])
        exchange.response_headers[STATUS] = "miss"
        self._lookups.labels("miss", "").inc()
        result = await call_next(exchange)
        if not directives.write:
            return result
        write = _Write(key, directives.ttl or policy.ttl, query, vector)
        if isinstance(result, ChatResponse):
            self._keep(write, exchange, result.body, result.raw)
            return result
        return ChatStream(result.exchange, self._capture(result.items, exchange, write))

    def policy(self, request: ChatRequest) -> CachePolicy:
        """The app's policy: gateway defaults overridden by its `settings.cache`."""
        app = request.caller.app
        settings = self._app_settings(app.id) if app is not None else None
        if app is None or settings is None:
            return self._default
        known = self._policies.get(app.id)
        if known is not None and known[0] is settings:  # records are replaced on change
            return known[1]
        try:
            parsed = app_cache_settings(settings)
        except InvalidRequest as exc:  # checked at creation; a hand-edited row is not
            log.warning("app %s: %s; using the gateway's cache defaults", app.id, exc.message)
            parsed = AppCacheSettings()
        policy = CachePolicy.resolve(self._config, parsed,
                                     semantic_available=self._semantic_available)
        self._policies[app.id] = (settings, policy)
        return policy

    async def drain(self) -> None:
        """Wait for writes in flight (tests and shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # --- reading ------------------------------------------------------------------

    async def _bypass(self, exchange: Exchange, call_next: Next) -> ChatResult:
        exchange.response_headers[STATUS] = "bypass"
        self._lookups.labels("bypass", "").inc()
        return await call_next(exchange)

    async def _fetch(self, key: bytes) -> Entry | None:
        try:
            raw = await self._store.get(key)
        except BackendUnavailable as exc:  # a shared store's outage: a miss, logged seldom
            self._outage(exc)
            return None
        except Exception:  # a store outage degrades to a miss, never a failed request
            log.warning("cache store read failed", exc_info=True)
            return None
        return Entry.decode(raw) if raw is not None else None

    def _usable(self, entry: Entry, directives: Directives) -> bool:
        """Not older than the request allows, and not from a deployment switched off since."""
        if directives.max_age is not None and self._clock() - entry.stored_at > directives.max_age:
            return False
        dep = self._router.deployments.get(entry.deployment) if entry.deployment else None
        return dep is None or not self._router.switches.blocks(
            deployment=dep.name, provider=dep.provider_kind)

    async def _embed(self, query: SemanticQuery, request: ChatRequest) -> Vector | None:
        assert self._embedder is not None  # a semantic policy implies one
        try:
            return await self._embedder.embed(query.text, caller=request.caller,
                                              request_id=request.request_id)
        except Exception as exc:  # the semantic cache is an optimisation: never fail for it
            self._embed_errors.inc()
            log.warning("semantic cache skipped: embedding failed: %s", exc)
            return None

    async def _semantic(
        self, scope: Scope, query: SemanticQuery, vector: Vector, policy: CachePolicy,
        directives: Directives,
    ) -> tuple[Entry, float] | None:
        assert self._index is not None
        match = await self._index.search(query.scope, query.context, vector,
                                         threshold=policy.threshold)
        if match is None or not match.key.startswith(scope.prefix):
            return None
        entry = await self._fetch(match.key)
        if entry is None:  # expired or evicted: the index forgets it too
            await self._index.discard(query.scope, match.key)
            return None
        return (entry, match.similarity) if self._usable(entry, directives) else None

    def _hit(self, exchange: Exchange, entry: Entry, kind: str,
             similarity: float | None = None) -> ChatResult:
        exchange.cache_hit = True
        headers = exchange.response_headers
        headers[STATUS] = "hit"
        headers[AGE] = str(max(0, int(self._clock() - entry.stored_at)))
        headers[KIND] = kind
        if similarity is not None:
            headers[SIMILARITY] = f"{similarity:.4f}"
        self._lookups.labels("hit", kind).inc()
        body = orjson.loads(entry.body)
        request = exchange.request
        if request.stream:
            exchange.first_token_at = time.perf_counter()
            return ChatStream(exchange, _replay(body, include_usage=request.include_usage))
        return ChatResponse(body, usage=None, raw=entry.body)

    # --- writing ------------------------------------------------------------------

    async def _capture(
        self, items: AsyncGenerator[StreamItem, None], exchange: Exchange, write: _Write
    ) -> AsyncGenerator[StreamItem, None]:
        """Pass every item on at once; keep the answer only if the stream ended cleanly."""
        assembler = StreamAssembler()
        async with contextlib.aclosing(items):
            async for item in items:
                if isinstance(item, StreamFailure):
                    yield item
                    return
                assembler.feed(item)
                yield item
        self._keep(write, exchange, assembler.body(usage=exchange.usage), None)

    def _keep(self, write: _Write, exchange: Exchange, body: Any, raw: bytes | None) -> None:
        if exchange.outcome != "ok" or not cacheable_answer(body, self._finish):
            self._writes.labels("not_cacheable").inc()
            return
        deployment = exchange.deployment.name if exchange.deployment is not None else ""
        entry = Entry(self._clock(), deployment, raw if raw is not None else orjson.dumps(body))
        self._spawn(self._write(write, entry.encode()))

    async def _write(self, write: _Write, value: bytes) -> None:
        try:
            stored = await self._store.set(write.key, value, ttl=write.ttl)
            self._writes.labels("stored" if stored else "too_large").inc()
            if stored and write.query is not None and write.vector is not None \
                    and self._index is not None:
                await self._index.add(write.query.scope, write.query.context, write.vector,
                                      write.key)
        except BackendUnavailable as exc:
            self._writes.labels("failed").inc()
            self._outage(exc)
        except Exception:
            self._writes.labels("failed").inc()
            log.warning("cache write failed", exc_info=True)

    def _outage(self, exc: BackendUnavailable) -> None:
        now = time.monotonic()
        if now - self._outage_logged >= OUTAGE_LOG_SECONDS:
            self._outage_logged = now
            log.warning("cache store unavailable (%s): lookups are misses, writes dropped", exc)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


async def _replay(body: dict[str, Any], *, include_usage: bool) -> AsyncGenerator[StreamItem, None]:
    for chunk in replay_chunks(body, include_usage=include_usage):
        yield chunk
