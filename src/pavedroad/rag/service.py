"""`RetrievalService`: collections, ingestion and search, as the gateway, CLI and evals use it.

Construct it from an engine and an embedder; everything else is optional:

    service = RetrievalService(engine, HashingEmbedder())        # migrate(url) first
    col = await service.create_collection("handbook", chunk_tokens=256, chunk_overlap=32)
    report = await service.ingest(col.id, [SourceDocument("a.md", b"# A\\n...")])
    report = await service.ingest_path(col.id, Path("docs"))     # incremental; prunes
    hits = await service.search(col.id, "how do I rotate keys", k=5, mode="hybrid",
                                filters={"source": "docs/"})      # -> list[Hit]

Collections are named by id (`col_…`) or by name (unique within a tenant). Every method
takes `caller=`: None is trusted in-process code (sees everything); a `Caller` is checked
by `rag.access` (the API passes the request's caller). `search` implements
`rag.types.Retriever`; modes are "hybrid" (BM25 and vectors fused: `rag.fusion`),
"bm25" and "vector". Filters match `source` (a value ending in "/" is a folder),
`title`, `section` (and its sub-sections), `document_id` and custom metadata fields; a list
value matches any of its items.

Options: `snapshot_dir` (index snapshots, so a restart need not rebuild), `check_seconds`
(how stale the collection list may be; other processes' ingests show up after it),
`vector_store` ("auto": pgvector's HNSW index when the store is PostgreSQL with the
extension, else exact search in process), `reranker` (reorders the first
`rerank_candidates` of a search; `rerank`: whether searches use it unless they say),
`embedders` (more embedders, for collections made with them), `fusion` (how hybrid mode
fuses, for every collection; default: the setting tuned for each collection's embedder,
`rag.fusion.fusion_for`) and `inline_limit` (a changed collection of more chunks keeps
answering from its previous index while the new one builds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.audit.record import AdminAudit
from pavedroad.config.models import Settings
from pavedroad.core.errors import (
    CollectionNotFound,
    InvalidRequest,
    PermissionDenied,
    RerankerUnavailable,
    ServiceUnavailable,
)
from pavedroad.core.ids import new_id
from pavedroad.core.types import Caller
from pavedroad.rag.access import can_read, check_manage, manage_tenant
from pavedroad.rag.chunking import DEFAULT_OVERLAP, DEFAULT_TOKENS
from pavedroad.rag.fusion import Fusion, fusion_for
from pavedroad.rag.hashing_embedder import HashingEmbedder
from pavedroad.rag.indexes import IndexCache
from pavedroad.rag.ingest import Ingestor, IngestReport, Progress, SourceDocument, read_path
from pavedroad.rag.pgvector import PgvectorIndex, pgvector_available
from pavedroad.rag.repository import CollectionRecord, DocumentRecord, RetrievalRepository
from pavedroad.rag.snapshot import IndexSnapshots, snapshot_dir_for
from pavedroad.rag.types import Embedder, Hit, Reranker, SearchMode, embed_queries
from pavedroad.service.org import OrgDirectory, check_name
from pavedroad.store.org import DEFAULT_TENANT, OrgRepository

MODES = get_args(SearchMode)
VectorStore = Literal["auto", "memory", "pgvector"]
MAX_K = 100
MAX_QUERY = 4000
# How many of a search's first hits a reranker reorders (the rest keep their order, so the
# cost does not grow with k): chosen on the dev split of evals/retrieval with the
# cross-encoder (RESULTS.md there); each costs one model pass.
RERANK_CANDIDATES = 10


class RetrievalService:
    def __init__(self, engine: AsyncEngine, embedder: Embedder, *,
                 embedders: Mapping[str, Embedder] | None = None,
                 directory: OrgDirectory | None = None, reranker: Reranker | None = None,
                 rerank: bool = True, rerank_candidates: int = RERANK_CANDIDATES,
                 snapshot_dir: Path | None = None, check_seconds: float = 1.0,
                 vector_store: VectorStore = "auto", fusion: Fusion | None = None,
                 inline_limit: int = 20_000, audit: AdminAudit | None = None) -> None:
        self.repository = RetrievalRepository(engine)
        self._audit = audit  # admin changes (create, share, ingest, delete) are audited
        # How hybrid mode weighs BM25 against vectors; None: the setting tuned for the
        # collection's embedder (`rag.fusion.fusion_for`).
        self.fusion = fusion
        # "auto": pgvector when the store is PostgreSQL with the extension, else in process.
        self.vector_store = vector_store
        self._pgvector: PgvectorIndex | None = None
        self._pg_checked = vector_store == "memory"
        self.embedder = embedder  # what new collections use
        self._embedders = {embedder.name: embedder, **(embedders or {})}
        self.directory = directory or OrgDirectory(OrgRepository(engine))
        self.reranker = reranker
        self.rerank = rerank  # whether a search reranks when it does not say
        self.rerank_candidates = rerank_candidates
        snapshots = IndexSnapshots(snapshot_dir) if snapshot_dir is not None else None
        self.indexes = IndexCache(self.repository, snapshots=snapshots,
                                  inline_limit=inline_limit)
        # Every collection record, re-read at most every `check_seconds`: searches resolve
        # names, access and versions from memory; other processes' changes show up in time.
        self._check = check_seconds
        self._catalog: list[CollectionRecord] | None = None
        self._catalog_at = 0.0

    async def _records(self, *, fresh: bool = False) -> list[CollectionRecord]:
        now = time.monotonic()
        if fresh or self._catalog is None or now - self._catalog_at >= self._check:
            self._catalog = await self.repository.collections()
            self._catalog_at = now
        return self._catalog

    def _changed(self) -> None:
        self._catalog = None

    async def _audited(self, actor: str, action: str, record: CollectionRecord, before: Any,
                       after: Any) -> None:
        if self._audit is not None:
            await self._audit.admin_action(actor=actor, action=action, target=record.id,
                                           before=before, after=after,
                                           tenant_id=record.tenant_id)

    async def pgvector(self) -> PgvectorIndex | None:
        """The pgvector index when vectors are searched in PostgreSQL (decided once)."""
        if not self._pg_checked:
            engine = self.repository.engine
            if await pgvector_available(engine):
                self._pgvector = PgvectorIndex(engine)
            elif self.vector_store == "pgvector":
                raise ServiceUnavailable("vector_store is pgvector, but the store is not "
                                         "PostgreSQL with the pgvector extension")
            self._pg_checked = True
        return self._pgvector

    # --- collections -------------------------------------------------------------------

    async def create_collection(
        self, name: str, *, tenant: str | None = None, apps: Sequence[str] = (),
        description: str = "", chunk_tokens: int = DEFAULT_TOKENS,
        chunk_overlap: int = DEFAULT_OVERLAP, caller: Caller | None = None,
        actor: str = "cli",
    ) -> CollectionRecord:
        only = manage_tenant(caller)
        await self.directory.refresh()
        tenant_id = self.directory.tenant(tenant).id if tenant else (only or DEFAULT_TENANT)
        if only is not None and tenant_id != only:
            raise PermissionDenied("a tenant admin key creates collections in its own tenant")
        if not 8 <= chunk_tokens <= 8192:
            raise InvalidRequest("chunk_tokens must be between 8 and 8192", param="chunk_tokens")
        if not 0 <= chunk_overlap <= chunk_tokens // 2:
            raise InvalidRequest("chunk_overlap must be between 0 and half of chunk_tokens",
                                 param="chunk_overlap")
        now = time.time()
        record = CollectionRecord(
            new_id("col"), tenant_id, check_name(name, "collection"), description,
            self.embedder.name, self.embedder.dimensions,
            {"chunk_tokens": chunk_tokens, "chunk_overlap": chunk_overlap}, 0,
            self._app_ids(tenant_id, apps), now, now)
        await self.repository.add_collection(record)
        pgvector = await self.pgvector()
        if pgvector is not None:
            await pgvector.create(record.id, record.dimensions)
        self._changed()
        await self._audited(actor, "collection.create", record, None, record.public())
        return record

    def _app_ids(self, tenant_id: str, apps: Sequence[str]) -> tuple[str, ...]:
        ids: list[str] = []
        for ref in apps:
            app = self.directory.app(ref)
            chain = self.directory.chain(app.id)
            if chain is None or chain[2].id != tenant_id:
                raise InvalidRequest(f"app {ref!r} is not in the collection's tenant",
                                     param="apps")
            ids.append(app.id)
        return tuple(sorted(set(ids)))

    async def list_collections(self, *, caller: Caller | None = None) -> list[CollectionRecord]:
        """The collections `caller` may search."""
        return [c for c in await self._records() if can_read(caller, c)]

    async def collection(self, ref: str, *, caller: Caller | None = None,
                         manage: bool = False) -> CollectionRecord:
        """Resolve an id or a name to a collection `caller` may see (and manage)."""
        found = self._find(await self._records(), ref, caller)
        if found is None:  # made by another process since the last read?
            found = self._find(await self._records(fresh=True), ref, caller)
        if found is None:
            raise CollectionNotFound(f"no collection {ref!r} that this key may use")
        if manage:
            check_manage(caller, found)
        return found

    @staticmethod
    def _find(records: list[CollectionRecord], ref: str,
              caller: Caller | None) -> CollectionRecord | None:
        named = [c for c in records if ref in (c.id, c.name) and can_read(caller, c)]
        if len(named) > 1:
            raise InvalidRequest(f"{len(named)} collections are named {ref!r} (in different "
                                 "tenants); name it by id", param="collection")
        return named[0] if named else None

    async def delete_collection(self, ref: str, *, caller: Caller | None = None,
                                actor: str = "cli") -> CollectionRecord:
        record = await self.collection(ref, caller=caller, manage=True)
        await self.repository.delete_collection(record.id, vectors=await self.pgvector())
        self._changed()
        self.indexes.invalidate(record.id, deleted=True)
        await self._audited(actor, "collection.delete", record, record.public(), None)
        return record

    async def share(self, ref: str, apps: Sequence[str], *, caller: Caller | None = None,
                    actor: str = "cli") -> CollectionRecord:
        """Set the apps whose keys may search the collection (replaces the list)."""
        record = await self.collection(ref, caller=caller, manage=True)
        await self.directory.refresh()
        ids = self._app_ids(record.tenant_id, apps)
        await self.repository.set_apps(record.id, ids, now=time.time())
        self._changed()
        await self._audited(actor, "collection.share", record, {"apps": list(record.apps)},
                            {"apps": list(ids)})
        return await self.collection(record.id)

    async def documents(self, ref: str, *,
                        caller: Caller | None = None) -> list[DocumentRecord]:
        record = await self.collection(ref, caller=caller)
        return await self.repository.documents(record.id)

    # --- ingestion ---------------------------------------------------------------------

    def _embedder_of(self, collection: CollectionRecord) -> Embedder:
        embedder = self._embedders.get(collection.embedder)
        if embedder is None:
            raise ServiceUnavailable(
                f"collection {collection.name!r} was embedded with {collection.embedder!r}, "
                f"which this gateway does not run (it has {', '.join(self._embedders)})")
        return embedder

    async def ingest(self, ref: str, documents: Sequence[SourceDocument], *,
                     prune: str | None = None, strict: bool = True,
                     progress: Progress | None = None, caller: Caller | None = None,
                     actor: str = "cli") -> IngestReport:
        """Add, replace (changed content) or skip (unchanged) `documents`; with `prune`,
        delete stored documents whose source starts with it and are not in `documents`."""
        record = await self.collection(ref, caller=caller, manage=True)
        ingestor = Ingestor(self.repository, self._embedder_of(record),
                            vectors=await self.pgvector())
        try:
            report = await ingestor.ingest(record, documents, prune=prune, strict=strict,
                                           progress=progress)
        finally:
            self._changed()
        if report.added or report.updated or report.deleted:
            await self._audited(actor, "collection.ingest", record, {"version": record.version},
                                {key: value for key, value in report.public().items()
                                 if key not in ("failed", "seconds")})
        return report

    async def ingest_path(self, ref: str, path: Path, *, progress: Progress | None = None,
                          caller: Caller | None = None, actor: str = "cli") -> IngestReport:
        """Ingest a file or a folder; a folder is mirrored: its removed files are deleted.
        Files that fail to parse are reported in `failed`, the rest still ingested."""
        documents, prefix, skipped = await asyncio.to_thread(read_path, path)
        report = await self.ingest(ref, documents, prune=prefix, strict=prefix is None,
                                   progress=progress, caller=caller, actor=actor)
        report.failed.update(skipped)
        return report

    # --- search ------------------------------------------------------------------------

    async def search(self, collection: str, query: str, *, k: int = 10,
                     mode: SearchMode = "hybrid", filters: Mapping[str, Any] | None = None,
                     rerank: bool | None = None, caller: Caller | None = None) -> list[Hit]:
        """Ranked chunks with citations; `score` is BM25, cosine, the fused score or the
        reranker's. `rerank`: None follows the service's setting; True without a reranker
        is `RerankerUnavailable`."""
        _check_search(query, k, mode, filters)
        if rerank and self.reranker is None:
            raise RerankerUnavailable(
                "this gateway has no reranker (retrieval.reranker is none, or the onnx extra "
                "is not installed); search without `rerank`", param="rerank")
        reranker = self.reranker if (self.rerank if rerank is None else rerank) else None
        record = await self.collection(collection, caller=caller)
        pgvector = await self.pgvector()
        index = await self.indexes.get(record, with_vectors=pgvector is None)
        if not len(index):
            return []
        depth = max(k, self.rerank_candidates) if reranker is not None else k
        fusion = self.fusion or fusion_for(record.embedder)
        vector, vector_ranked = None, None
        if mode != "bm25":
            vector = (await embed_queries(self._embedder_of(record), [query]))[0]
            if pgvector is not None:  # filters apply afterwards: fetch more when filtering
                wanted = max(fusion.candidates, depth) * (4 if filters else 1)
                vector_ranked = await pgvector.rank(record.id, record.dimensions, vector,
                                                    wanted)
        ranked = await asyncio.to_thread(index.search, query, vector, k=depth, mode=mode,
                                         filters=filters, vector_ranked=vector_ranked,
                                         fusion=fusion)
        hits = [index.hit(row, score) for row, score in ranked]
        if reranker is not None:
            cut = self.rerank_candidates
            hits = [*await reranker.rerank(query, hits[:cut]), *hits[cut:]]
        return hits[:k]


def _check_search(query: str, k: int, mode: str, filters: Mapping[str, Any] | None) -> None:
    if not query.strip():
        raise InvalidRequest("`query` must not be empty", param="query")
    if len(query) > MAX_QUERY:
        raise InvalidRequest(f"`query` is longer than {MAX_QUERY} characters", param="query")
    if not 1 <= k <= MAX_K:
        raise InvalidRequest(f"`k` must be between 1 and {MAX_K}", param="k")
    if mode not in MODES:
        raise InvalidRequest(f"`mode` must be one of {', '.join(MODES)}", param="mode")
    if filters is not None and not isinstance(filters, Mapping):
        raise InvalidRequest("`filters` must be an object of field: value", param="filters")


def build_retrieval(settings: Settings, engine: AsyncEngine, directory: OrgDirectory, *,
                    embedder: Embedder | None = None,
                    embedders: Mapping[str, Embedder] | None = None,
                    reranker: Reranker | None = None,
                    audit: AdminAudit | None = None) -> RetrievalService:
    """The gateway's service: snapshots beside a SQLite file; the hashing embedder unless
    another is given (a local model or the gateway's own embeddings routing); reranking
    as `retrieval.rerank` and `retrieval.rerank_candidates` say."""
    hashing = HashingEmbedder()
    config = settings.retrieval
    return RetrievalService(engine, embedder or hashing,
                            embedders={hashing.name: hashing, **(embedders or {})},
                            directory=directory, snapshot_dir=snapshot_dir_for(settings.store.url),
                            reranker=reranker, rerank=config.rerank,
                            rerank_candidates=config.rerank_candidates, audit=audit)
