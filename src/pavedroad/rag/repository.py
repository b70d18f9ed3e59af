"""Collections, documents and chunks in the store (SQLite or PostgreSQL, same tables).

Every change to a collection's content bumps its `version` in the same transaction, so any
process holding an index of it can tell, with one cheap read, that it must reload.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pavedroad.core.errors import CollectionNotFound, Conflict
from pavedroad.rag.index import IndexedChunk
from pavedroad.rag.pgvector import PgvectorIndex
from pavedroad.store.schema import rag_chunks, rag_collection_apps, rag_collections, rag_documents

_BATCH = 500


@dataclass(frozen=True, slots=True)
class CollectionRecord:
    id: str
    tenant_id: str
    name: str
    description: str
    embedder: str
    dimensions: int
    settings: Mapping[str, Any]
    version: int
    apps: tuple[str, ...] = ()
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def chunk_tokens(self) -> int:
        return int(self.settings.get("chunk_tokens", 256))

    @property
    def chunk_overlap(self) -> int:
        return int(self.settings.get("chunk_overlap", 32))

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "object": "collection", "name": self.name,
                "tenant_id": self.tenant_id, "description": self.description,
                "embedder": self.embedder, "dimensions": self.dimensions,
                "chunk_tokens": self.chunk_tokens, "chunk_overlap": self.chunk_overlap,
                "apps": list(self.apps), "version": self.version,
                "created_at": self.created_at, "updated_at": self.updated_at}


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    id: str
    collection_id: str
    source: str
    content_hash: str
    title: str
    media_type: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    chunks: int = 0
    updated_at: float = 0.0

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "title": self.title,
                "media_type": self.media_type, "content_hash": self.content_hash,
                "metadata": dict(self.metadata), "chunks": self.chunks,
                "updated_at": self.updated_at}


@dataclass(frozen=True, slots=True)
class ChunkRow:
    id: str
    seq: int
    text: str
    text_hash: str
    start: int
    end: int
    section: str
    metadata: Mapping[str, Any]
    embedding: npt.NDArray[np.float32]


def _collection(row: Any, apps: Sequence[str]) -> CollectionRecord:
    return CollectionRecord(row.id, row.tenant_id, row.name, row.description, row.embedder,
                            row.dimensions, dict(row.settings or {}), int(row.version),
                            tuple(sorted(apps)), row.created_at, row.updated_at)


def _document(row: Any) -> DocumentRecord:
    return DocumentRecord(row.id, row.collection_id, row.source, row.content_hash, row.title,
                          row.media_type, dict(row.metadata or {}), row.chunks, row.updated_at)


def _batches(items: Sequence[Any], size: int = _BATCH) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class RetrievalRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add_collection(self, record: CollectionRecord) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(rag_collections.insert().values(
                    id=record.id, tenant_id=record.tenant_id, name=record.name,
                    description=record.description, embedder=record.embedder,
                    dimensions=record.dimensions, settings=dict(record.settings),
                    version=record.version, created_at=record.created_at,
                    updated_at=record.updated_at))
                await self._put_apps(conn, record.id, record.apps)
        except IntegrityError:
            raise Conflict(f"collection {record.name!r} already exists in this tenant") from None

    async def _put_apps(self, conn: AsyncConnection, collection_id: str,
                        apps: Iterable[str]) -> None:
        await conn.execute(rag_collection_apps.delete()
                           .where(rag_collection_apps.c.collection_id == collection_id))
        values = [{"collection_id": collection_id, "app_id": app} for app in sorted(set(apps))]
        if values:
            await conn.execute(rag_collection_apps.insert(), values)

    async def set_apps(self, collection_id: str, apps: Iterable[str], *, now: float) -> None:
        async with self.engine.begin() as conn:
            await self._put_apps(conn, collection_id, apps)
            await conn.execute(rag_collections.update()
                               .where(rag_collections.c.id == collection_id)
                               .values(updated_at=now))

    async def collections(self, *, tenant_id: str | None = None,
                          app_id: str | None = None) -> list[CollectionRecord]:
        """Every collection, or those of a tenant, or those shared with an app."""
        query = sa.select(rag_collections).order_by(rag_collections.c.name)
        if tenant_id is not None:
            query = query.where(rag_collections.c.tenant_id == tenant_id)
        if app_id is not None:
            shared = sa.select(rag_collection_apps.c.collection_id).where(
                rag_collection_apps.c.app_id == app_id)
            query = query.where(rag_collections.c.id.in_(shared))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            apps: dict[str, list[str]] = {}
            links = await conn.execute(sa.select(rag_collection_apps))
            for link in links:
                apps.setdefault(link.collection_id, []).append(link.app_id)
        return [_collection(row, apps.get(row.id, ())) for row in rows]

    async def collection(self, collection_id: str) -> CollectionRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(rag_collections)
                                      .where(rag_collections.c.id == collection_id))).first()
            if row is None:
                return None
            apps = (await conn.execute(sa.select(rag_collection_apps.c.app_id).where(
                rag_collection_apps.c.collection_id == collection_id))).scalars().all()
        return _collection(row, list(apps))

    async def delete_collection(self, collection_id: str, *,
                                vectors: PgvectorIndex | None = None) -> None:
        async with self.engine.begin() as conn:
            if vectors is not None:
                await vectors.drop(conn, collection_id)
            for table in (rag_chunks, rag_documents, rag_collection_apps):
                await conn.execute(table.delete().where(table.c.collection_id == collection_id))
            await conn.execute(rag_collections.delete()
                               .where(rag_collections.c.id == collection_id))

    async def documents(self, collection_id: str) -> list[DocumentRecord]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(rag_documents)
                                       .where(rag_documents.c.collection_id == collection_id)
                                       .order_by(rag_documents.c.source))).all()
        return [_document(row) for row in rows]

    async def cached_embeddings(self, embedder: str,
                                hashes: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """Stored vectors of texts already embedded by `embedder`, by text hash."""
        found: dict[str, npt.NDArray[np.float32]] = {}
        async with self.engine.connect() as conn:
            for batch in _batches(sorted(set(hashes))):
                rows = await conn.execute(
                    sa.select(rag_chunks.c.text_hash, rag_chunks.c.embedding)
                    .where(rag_chunks.c.embedder == embedder,
                           rag_chunks.c.text_hash.in_(batch)))
                for text_hash, blob in rows:
                    found[text_hash] = np.frombuffer(blob, dtype="<f4")
        return found

    async def apply(self, collection_id: str, *,
                    upserts: Sequence[tuple[DocumentRecord, Sequence[ChunkRow]]],
                    deletes: Sequence[str], embedder: str, now: float,
                    vectors: PgvectorIndex | None = None) -> int:
        """Replace and delete documents in one transaction; returns the new version."""
        replaced = [doc.id for doc, _ in upserts] + list(deletes)
        async with self.engine.begin() as conn:
            if vectors is not None:
                await vectors.write(conn, collection_id,
                                    [(c.id, c.embedding) for _, chunks in upserts for c in chunks],
                                    replaced)
            for batch in _batches(replaced):
                await conn.execute(rag_chunks.delete().where(rag_chunks.c.document_id.in_(batch)))
                await conn.execute(rag_documents.delete().where(rag_documents.c.id.in_(batch)))
            docs = [{"id": d.id, "collection_id": collection_id, "source": d.source,
                     "content_hash": d.content_hash, "title": d.title,
                     "media_type": d.media_type, "metadata": dict(d.metadata),
                     "chunks": len(chunks), "created_at": now, "updated_at": now}
                    for d, chunks in upserts]
            for batch in _batches(docs):
                await conn.execute(rag_documents.insert(), list(batch))
            rows = [{"id": c.id, "collection_id": collection_id, "document_id": d.id,
                     "seq": c.seq, "text": c.text, "text_hash": c.text_hash,
                     "start_offset": c.start, "end_offset": c.end, "section": c.section,
                     "metadata": dict(c.metadata), "embedder": embedder,
                     "embedding": np.asarray(c.embedding, dtype="<f4").tobytes()}
                    for d, chunks in upserts for c in chunks]
            for batch in _batches(rows, 2000):
                await conn.execute(rag_chunks.insert(), list(batch))
            await conn.execute(rag_collections.update()
                               .where(rag_collections.c.id == collection_id)
                               .values(version=rag_collections.c.version + 1, updated_at=now))
            version = (await conn.execute(sa.select(rag_collections.c.version).where(
                rag_collections.c.id == collection_id))).scalar_one()
        return int(version)

    async def load(self, collection_id: str, dimensions: int, *, with_vectors: bool = True,
                   ) -> tuple[int, list[IndexedChunk], npt.NDArray[np.float32]]:
        """Everything an index needs, read in one transaction: (version, chunks, vectors);
        without vectors (pgvector searches them), the matrix has no columns."""
        embedding = rag_chunks.c.embedding if with_vectors else sa.null().label("embedding")
        query = (sa.select(rag_chunks.c.id, rag_chunks.c.document_id, rag_chunks.c.text,
                           rag_chunks.c.start_offset, rag_chunks.c.end_offset,
                           rag_chunks.c.section, rag_chunks.c.metadata, embedding,
                           rag_documents.c.source, rag_documents.c.title,
                           rag_documents.c.metadata.label("doc_metadata"))
                 .join(rag_documents, rag_documents.c.id == rag_chunks.c.document_id)
                 .where(rag_chunks.c.collection_id == collection_id)
                 .order_by(rag_documents.c.source, rag_chunks.c.seq))
        async with self.engine.begin() as conn:
            version = (await conn.execute(sa.select(rag_collections.c.version).where(
                rag_collections.c.id == collection_id))).scalar_one_or_none()
            if version is None:  # deleted by another process a moment ago
                raise CollectionNotFound(f"no collection {collection_id!r}")
            rows = (await conn.execute(query)).all()
        # Turning 100k rows into objects takes a while: not on the event loop.
        chunks, vectors = await asyncio.to_thread(_indexed, rows, dimensions, with_vectors)
        return int(version), chunks, vectors


def _indexed(rows: Sequence[Any], dimensions: int, with_vectors: bool,
             ) -> tuple[list[IndexedChunk], npt.NDArray[np.float32]]:
    chunks: list[IndexedChunk] = []
    vectors = np.zeros((len(rows), dimensions if with_vectors else 0), dtype=np.float32)
    for i, row in enumerate(rows):
        chunks.append(IndexedChunk(row.id, row.document_id, row.text, row.source, row.title,
                                   row.section, row.start_offset, row.end_offset,
                                   {**(row.doc_metadata or {}), **(row.metadata or {})}))
        if with_vectors:
            vectors[i] = np.frombuffer(row.embedding, dtype="<f4")
    return chunks, vectors
