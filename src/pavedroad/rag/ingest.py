"""Incremental ingestion: parse, chunk, embed (batched, cached by text hash), store.

A document whose fingerprint (its bytes, title and metadata) is unchanged is skipped;
a changed one is replaced whole; documents under the ingested folder that are gone from it
are deleted. Identical chunk texts are embedded once, whether seen before or twice now.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pavedroad.core.errors import InvalidRequest, PavedroadError
from pavedroad.core.ids import new_id
from pavedroad.rag.chunking import chunk_document
from pavedroad.rag.index import index_text
from pavedroad.rag.parse import MEDIA_TYPES, media_type_of, parse
from pavedroad.rag.pgvector import PgvectorIndex
from pavedroad.rag.repository import (
    ChunkRow,
    CollectionRecord,
    DocumentRecord,
    RetrievalRepository,
)
from pavedroad.rag.types import Embedder

Progress = Callable[[int], None]  # called with how many more documents are done


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """A document to ingest; `source` names it in citations and must be unique."""

    source: str
    content: bytes | str
    media_type: str | None = None
    title: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        data = self.content.encode() if isinstance(self.content, str) else self.content
        digest = hashlib.sha256(data)
        extra = {"title": self.title, "metadata": dict(self.metadata),
                 "media_type": self.media_type}
        digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
        return digest.hexdigest()


@dataclass(slots=True)
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks: int = 0  # chunks written
    embedded: int = 0  # texts sent to the embedder
    reused: int = 0  # chunk vectors taken from the cache instead
    version: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # source -> why (folder ingestion)
    seconds: float = 0.0

    def public(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Prepared:
    record: DocumentRecord
    drafts: list[tuple[str, int, int, str, dict[str, Any]]]  # text, start, end, section, meta
    hashes: list[str]
    texts: list[str]  # what gets embedded


def read_path(path: Path) -> tuple[list[SourceDocument], str | None, dict[str, str]]:
    """Documents under `path` (a file or a folder), the source prefix they share (None for
    a single file) and the files skipped with why. Sources are relative to the folder's
    parent, so `docs/` yields `docs/adr/0001.md`."""
    if path.is_file():
        return [SourceDocument(path.name, path.read_bytes())], None, {}
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    base = path.resolve()
    prefix = f"{base.name}/"
    documents: list[SourceDocument] = []
    skipped: dict[str, str] = {}
    for file in sorted(_walk(base)):
        source = prefix + file.relative_to(base).as_posix()
        if file.suffix.lower() in MEDIA_TYPES:
            documents.append(SourceDocument(source, file.read_bytes()))
        else:
            skipped[source] = "unsupported type"
    return documents, prefix, skipped


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith("."):
                yield Path(folder) / name


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _prepare(collection: CollectionRecord, doc: SourceDocument, fingerprint: str) -> _Prepared:
    media_type = media_type_of(doc.source, doc.media_type)
    parsed = parse(doc.source, doc.content, media_type=media_type)
    title = doc.title or parsed.title
    record = DocumentRecord(new_id("doc"), collection.id, doc.source, fingerprint, title[:500],
                            media_type, {**parsed.metadata, **doc.metadata})
    drafts: list[tuple[str, int, int, str, dict[str, Any]]] = []
    for draft in chunk_document(parsed, tokens=collection.chunk_tokens,
                                overlap=collection.chunk_overlap):
        drafts.append((draft.text, draft.start, draft.end, " > ".join(draft.section), {}))
    texts = [index_text(title, section, text) for text, _, _, section, _ in drafts]
    return _Prepared(record, drafts, [_text_hash(t) for t in texts], texts)


class Ingestor:
    def __init__(self, repository: RetrievalRepository, embedder: Embedder, *,
                 batch_size: int = 64, flush_chunks: int = 5000,
                 vectors: PgvectorIndex | None = None) -> None:
        self._repository = repository
        self._vectors_index = vectors
        self._embedder = embedder
        self._batch = batch_size
        self._flush_chunks = flush_chunks  # write to the store every so many chunks

    async def ingest(self, collection: CollectionRecord, documents: Sequence[SourceDocument],
                     *, prune: str | None = None, strict: bool = True,
                     progress: Progress | None = None) -> IngestReport:
        """Bring `collection` up to date with `documents`. `prune`: delete stored documents
        whose source starts with it and that are not in `documents` ("" prunes all).
        `strict`: a document that fails to parse aborts the run (else it is reported)."""
        started = time.perf_counter()
        report = IngestReport()
        existing = {d.source: d for d in await self._repository.documents(collection.id)}
        seen: set[str] = set()
        pending: list[_Prepared] = []
        pending_chunks = 0
        for doc in documents:
            if doc.source in seen:
                raise _duplicate(doc.source)
            seen.add(doc.source)
            fingerprint = doc.fingerprint()
            old = existing.get(doc.source)
            if old is not None and old.content_hash == fingerprint:
                report.unchanged += 1
                if progress:
                    progress(1)
                continue
            try:
                prepared = await asyncio.to_thread(_prepare, collection, doc, fingerprint)
            except PavedroadError as exc:
                if strict:
                    raise
                report.failed[doc.source] = exc.message
                if progress:
                    progress(1)
                continue
            if old is not None:
                prepared.record = _keep_id(prepared.record, old.id)
                report.updated += 1
            else:
                report.added += 1
            pending.append(prepared)
            pending_chunks += len(prepared.drafts)
            if pending_chunks >= self._flush_chunks:
                await self._write(collection, pending, [], report, progress)
                pending, pending_chunks = [], 0
        deletes = [] if prune is None else [
            d.id for source, d in existing.items() if source.startswith(prune) and source not in seen]
        report.deleted = len(deletes)
        if pending or deletes:
            await self._write(collection, pending, deletes, report, progress)
        if not report.version:
            report.version = collection.version
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    async def _write(self, collection: CollectionRecord, batch: list[_Prepared],
                     deletes: list[str], report: IngestReport,
                     progress: Progress | None) -> None:
        vectors = await self._vectors(collection, batch, report)
        upserts = []
        for prepared in batch:
            rows = [ChunkRow(new_id("chk"), seq, text, text_hash, start, end, section, meta,
                             vectors[text_hash])
                    for seq, ((text, start, end, section, meta), text_hash)
                    in enumerate(zip(prepared.drafts, prepared.hashes, strict=True))]
            upserts.append((prepared.record, rows))
            report.chunks += len(rows)
        report.version = await self._repository.apply(
            collection.id, upserts=upserts, deletes=deletes, embedder=collection.embedder,
            now=time.time(), vectors=self._vectors_index)
        if progress:
            progress(len(batch))

    async def _vectors(self, collection: CollectionRecord, batch: list[_Prepared],
                       report: IngestReport) -> dict[str, npt.NDArray[np.float32]]:
        wanted: dict[str, str] = {}
        for prepared in batch:
            wanted.update(zip(prepared.hashes, prepared.texts, strict=True))
        total = sum(len(p.hashes) for p in batch)
        found = await self._repository.cached_embeddings(collection.embedder, list(wanted))
        missing = [(h, t) for h, t in wanted.items() if h not in found]
        for i in range(0, len(missing), self._batch):
            group = missing[i:i + self._batch]
            embedded = await self._embedder.embed([t for _, t in group])
            if embedded.shape != (len(group), collection.dimensions):
                raise ValueError(f"embedder {self._embedder.name} returned {embedded.shape}, "
                                 f"expected ({len(group)}, {collection.dimensions})")
            for (text_hash, _), vector in zip(group, embedded, strict=True):
                found[text_hash] = vector.astype(np.float32)
        report.embedded += len(missing)
        report.reused += total - len(missing)
        return found


def _keep_id(record: DocumentRecord, document_id: str) -> DocumentRecord:
    """A replaced document keeps its id, so citations held elsewhere stay valid."""
    return DocumentRecord(document_id, record.collection_id, record.source,
                          record.content_hash, record.title, record.media_type,
                          record.metadata)


def _duplicate(source: str) -> PavedroadError:
    return InvalidRequest(f"two documents have the source {source!r}; sources must be unique",
                          param="documents")
