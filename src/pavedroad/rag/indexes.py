"""Per-collection indexes, loaded lazily and reloaded when the collection's version moves.

The caller passes the collection record it resolved (from the service's catalog, re-read
at most every second), so a search costs no store round trip in the common case, and an
ingest by another process (the CLI, another replica) is seen within that delay. Builds
run in a worker thread, one per collection at a time.
"""

from __future__ import annotations

import asyncio

from pavedroad.rag.index import CollectionIndex
from pavedroad.rag.repository import CollectionRecord, RetrievalRepository
from pavedroad.rag.snapshot import IndexSnapshots


class IndexCache:
    """`inline_limit`: an outdated index of at most this many chunks is rebuilt before the
    search that notices (a second or so: searches read their own writes); a larger one
    keeps answering while a background task rebuilds it, rather than stall searches."""

    def __init__(self, repository: RetrievalRepository, *,
                 snapshots: IndexSnapshots | None = None, inline_limit: int = 20_000) -> None:
        self._repository = repository
        self._snapshots = snapshots
        self._inline_limit = inline_limit
        self._indexes: dict[str, CollectionIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._rebuilding: dict[str, asyncio.Task[CollectionIndex]] = {}

    async def get(self, collection: CollectionRecord, *,
                  with_vectors: bool = True) -> CollectionIndex:
        """The index of `collection`, at least as new as `collection.version` (or, for a
        large collection being rebuilt, the one before); without vectors when another
        engine (pgvector) searches them."""
        index = self._indexes.get(collection.id)
        if index is not None and index.version >= collection.version:
            return index
        if index is not None and len(index) > self._inline_limit:
            if collection.id not in self._rebuilding:
                task = asyncio.create_task(self._fresh(collection, with_vectors))
                self._rebuilding[collection.id] = task
                task.add_done_callback(lambda _: self._rebuilding.pop(collection.id, None))
            return index
        return await self._fresh(collection, with_vectors)

    async def _fresh(self, collection: CollectionRecord, with_vectors: bool) -> CollectionIndex:
        async with self._locks.setdefault(collection.id, asyncio.Lock()):
            index = self._indexes.get(collection.id)
            if index is None or index.version < collection.version:
                index = await self._load(collection, with_vectors)
                self._indexes[collection.id] = index
            return index

    async def _load(self, collection: CollectionRecord, with_vectors: bool) -> CollectionIndex:
        if self._snapshots is not None:
            found = await asyncio.to_thread(self._snapshots.load, collection.id,
                                            collection.version)
            if found is not None:
                return found
        version, chunks, vectors = await self._repository.load(
            collection.id, collection.dimensions, with_vectors=with_vectors)
        index = await asyncio.to_thread(CollectionIndex.build, collection.id, version, chunks,
                                        vectors)
        if self._snapshots is not None:
            await asyncio.to_thread(self._snapshots.save, index)
        return index

    async def wait(self) -> None:
        """Let background rebuilds finish (tests, shutdown)."""
        await asyncio.gather(*self._rebuilding.values(), return_exceptions=True)

    def invalidate(self, collection_id: str, *, deleted: bool = False) -> None:
        """Forget a collection's index: the next search reloads it (a deleted collection's
        snapshots go too)."""
        self._indexes.pop(collection_id, None)
        if deleted and self._snapshots is not None:
            self._snapshots.drop(collection_id)
