"""Vector search in PostgreSQL with pgvector, for scale-out: replicas need not hold the
vectors, and an HNSW index answers without scanning them all.

The vectors live in a side table (`rag_pgvectors`) that this module creates with the
extension; it is an index, like the snapshot files of the embedded default, written in the
same transaction as the chunks it mirrors. One partial HNSW index per collection casts to
the collection's dimensions, so collections with different embedders share the table.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("pavedroad.rag")

TABLE = "rag_pgvectors"
_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS vector",
    f"CREATE TABLE IF NOT EXISTS {TABLE} (chunk_id varchar(40) PRIMARY KEY, "
    "collection_id varchar(40) NOT NULL, embedding vector NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_collection ON {TABLE} (collection_id)",
]


def _literal(vector: npt.NDArray[np.float32]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"


def _index_name(collection_id: str) -> str:
    return f"ix_{TABLE}_hnsw_{collection_id}".lower()


async def pgvector_available(engine: AsyncEngine) -> bool:
    """Whether the store is PostgreSQL with the pgvector extension (installing it in the
    database when the server has it and we may)."""
    if engine.dialect.name != "postgresql":
        return False
    try:
        async with engine.begin() as conn:
            for statement in _CREATE:
                await conn.execute(sa.text(statement))
    except sa.exc.DBAPIError as exc:
        log.warning("pgvector is not usable here (%s); vectors are searched in process",
                    str(exc.orig).splitlines()[0] if exc.orig else exc)
        return False
    return True


class PgvectorIndex:
    """Writes and searches the vectors of every collection in one PostgreSQL database."""

    def __init__(self, engine: AsyncEngine, *, ef_search: int = 100) -> None:
        self._engine = engine
        self._ef_search = ef_search

    async def create(self, collection_id: str, dimensions: int) -> None:
        name = _index_name(collection_id)
        async with self._engine.begin() as conn:
            await conn.execute(sa.text(
                f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} USING hnsw "
                f"((embedding::vector({int(dimensions)})) vector_cosine_ops) "
                f"WHERE collection_id = '{_checked(collection_id)}'"))

    async def write(self, conn: AsyncConnection, collection_id: str,
                    rows: Sequence[tuple[str, npt.NDArray[np.float32]]],
                    deleted_documents: Sequence[str]) -> None:
        """Inside the chunks' own transaction: drop the vectors of replaced documents' chunks
        (call before their chunks are deleted) and add `rows`."""
        if deleted_documents:
            await conn.execute(sa.text(
                f"DELETE FROM {TABLE} WHERE chunk_id IN (SELECT id FROM rag_chunks "
                "WHERE document_id = ANY(:docs))"), {"docs": list(deleted_documents)})
        for i in range(0, len(rows), 1000):
            batch = rows[i:i + 1000]
            await conn.execute(sa.text(
                f"INSERT INTO {TABLE} (chunk_id, collection_id, embedding) "
                "SELECT unnest(CAST(:ids AS varchar[])), :collection, "
                "unnest(CAST(:vectors AS text[]))::vector"),
                {"ids": [chunk_id for chunk_id, _ in batch], "collection": collection_id,
                 "vectors": [_literal(vector) for _, vector in batch]})

    async def drop(self, conn: AsyncConnection, collection_id: str) -> None:
        await conn.execute(sa.text(f"DROP INDEX IF EXISTS {_index_name(collection_id)}"))
        await conn.execute(sa.text(f"DELETE FROM {TABLE} WHERE collection_id = :c"),
                           {"c": collection_id})

    async def rank(self, collection_id: str, dimensions: int, vector: npt.NDArray[np.float32],
                   depth: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first, from the HNSW index."""
        d = int(dimensions)
        query = sa.text(
            f"SELECT chunk_id, 1 - (embedding::vector({d}) <=> CAST(CAST(:q AS text) AS "
            f"vector({d}))) AS score FROM {TABLE} WHERE collection_id = :c "
            f"ORDER BY embedding::vector({d}) <=> CAST(CAST(:q AS text) AS vector({d})) "
            "LIMIT :n")
        async with self._engine.begin() as conn:
            # HNSW returns at most ef_search rows: never fewer than asked for.
            ef_search = max(self._ef_search, min(int(depth), 1000))
            await conn.execute(sa.text(f"SET LOCAL hnsw.ef_search = {ef_search}"))
            rows = await conn.execute(query, {"q": _literal(vector), "c": collection_id,
                                              "n": depth})
            return [(row.chunk_id, float(row.score)) for row in rows]


def _checked(collection_id: str) -> str:
    """Collection ids are ours (`col_` + base36), but the DDL is built as text: refuse
    anything else rather than trust it."""
    if not collection_id.replace("_", "").isalnum():
        raise ValueError(f"not a collection id: {collection_id!r}")
    return collection_id
