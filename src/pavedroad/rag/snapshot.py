"""Index snapshots beside the SQLite file: a restart loads a built index instead of
re-reading every chunk and re-tokenising it.

One pair of files per collection version (`v<version>.npz` arrays, `v<version>.json` the
rest), written to a temporary name and renamed, so a reader never sees half a snapshot.
No pickle: the files are data only. The store stays the source of truth; a snapshot whose
version is not the collection's is ignored and replaced.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy.engine import make_url

from pavedroad.rag.bm25 import BM25Index
from pavedroad.rag.index import CollectionIndex, IndexedChunk

FORMAT = 1


def snapshot_dir_for(store_url: str) -> Path | None:
    """`<db file>.rag/` for a SQLite file; None (no snapshots) for memory or a server."""
    parsed = make_url(store_url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(f"{parsed.database}.rag")


class IndexSnapshots:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _paths(self, collection_id: str, version: int) -> tuple[Path, Path]:
        folder = self.root / collection_id
        return folder / f"v{version}.npz", folder / f"v{version}.json"

    def save(self, index: CollectionIndex) -> None:
        arrays, meta = self._paths(index.collection, index.version)
        arrays.parent.mkdir(parents=True, exist_ok=True)
        for old in arrays.parent.glob("v*"):
            if old.name not in (arrays.name, meta.name):
                old.unlink(missing_ok=True)
        vocabulary = sorted(index.bm25.vocabulary, key=index.bm25.vocabulary.__getitem__)
        chunks = [[c.chunk_id, c.document_id, c.text, c.source, c.title, c.section, c.start,
                   c.end, dict(c.metadata)] for c in index.chunks]
        body = {"format": FORMAT, "collection": index.collection, "version": index.version,
                "vocabulary": vocabulary, "chunks": chunks}
        tmp = arrays.parent / f".{arrays.name}.{os.getpid()}.tmp"
        with tmp.open("wb") as out:
            np.savez(out, vectors=index.vectors, offsets=index.bm25.offsets,
                     docs=index.bm25.docs, weights=index.bm25.weights)
        os.replace(tmp, arrays)
        tmp_meta = meta.parent / f".{meta.name}.{os.getpid()}.tmp"
        tmp_meta.write_bytes(orjson.dumps(body))
        os.replace(tmp_meta, meta)

    def load(self, collection_id: str, version: int) -> CollectionIndex | None:
        arrays, meta = self._paths(collection_id, version)
        if not (arrays.exists() and meta.exists()):
            return None
        try:
            body: dict[str, Any] = orjson.loads(meta.read_bytes())
            with np.load(arrays, allow_pickle=False) as data:
                vectors, offsets = data["vectors"], data["offsets"]
                docs, weights = data["docs"], data["weights"]
        except (OSError, ValueError, KeyError, orjson.JSONDecodeError):
            return None  # damaged: rebuilt from the store
        if body.get("format") != FORMAT or body.get("version") != version:
            return None
        chunks = [IndexedChunk(*row) for row in body["chunks"]]
        vocabulary = {term: i for i, term in enumerate(body["vocabulary"])}
        bm25 = BM25Index(vocabulary, offsets, docs, weights, len(chunks))
        return CollectionIndex(collection_id, version, chunks, vectors, bm25)

    def drop(self, collection_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.root / collection_id)
