"""The retrieval service on the embedded default (SQLite) and on PostgreSQL: incremental
ingestion, the embedding cache, the three search modes, filters, access and reloads."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.core.errors import (
    CollectionNotFound,
    Conflict,
    DocumentUnreadable,
    InvalidRequest,
    PermissionDenied,
    RerankerUnavailable,
)
from pavedroad.core.types import Caller, Subject
from pavedroad.rag.fusion import PLAIN_RRF
from pavedroad.rag.hashing_embedder import HashingEmbedder
from pavedroad.rag.ingest import SourceDocument
from pavedroad.rag.service import RetrievalService
from pavedroad.rag.types import Hit
from pavedroad.service.org import OrgAdmin, OrgDirectory
from pavedroad.store.database import create_engine, migrate
from pavedroad.store.org import OrgRepository
from tests.support.pdf import make_pdf
from tests.support.services import PostgresServer

_names = itertools.count()


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__(128)
        self.texts: list[str] = []

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.texts.extend(texts)
        return await super().embed(texts)


@pytest.fixture(params=["sqlite", "postgres", "pgvector"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite and PostgreSQL search vectors in process; "pgvector" is PostgreSQL with the
    extension, whose HNSW index the service then uses by itself."""
    kind: str = request.param
    return kind


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    server: PostgresServer = request.getfixturevalue(
        "postgres" if backend == "postgres" else "pgvector_postgres")
    return server.database(f"rag_{next(_names)}_{int(time.time())}")


async def test_the_vector_engine_follows_the_store(engine: AsyncEngine, backend: str) -> None:
    service = RetrievalService(engine, HashingEmbedder(), check_seconds=0)
    assert (await service.pgvector() is not None) == (backend == "pgvector")
    collection = await service.create_collection("engine")
    await service.ingest(collection.id, [SourceDocument("keys.md", KEYS),
                                         SourceDocument("budgets.md", BUDGETS)])
    await service.ingest(collection.id, [SourceDocument("keys.md", KEYS)], prune="")
    hits = await service.search("engine", "revoke a virtual key", mode="vector")
    assert [h.citation.source for h in hits] == ["keys.md"]
    assert hits[0].score == pytest.approx(
        float(HashingEmbedder().embed_sync(["revoke a virtual key"])[0]
              @ HashingEmbedder().embed_sync([f"Keys\nKeys > Revoking\n{hits[0].text}"])[0]),
        abs=1e-4)
    if backend == "pgvector":  # the database holds exactly the live chunks' vectors
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT count(*) FROM rag_pgvectors"))).scalar()
        assert rows == len(hits)
        await service.delete_collection("engine")
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT count(*) FROM rag_pgvectors"))).scalar()
        assert rows == 0


@pytest.fixture
async def engine(store_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(migrate, store_url)
    engine = create_engine(store_url)
    yield engine
    await engine.dispose()


def _folder(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


KEYS = "# Keys\n\n## Revoking\n\nRevoke a virtual key with `pavedroad keys revoke`.\n"
BUDGETS = "# Budgets\n\nA hard budget blocks requests once the monthly amount is spent.\n"


async def test_folder_ingestion_is_incremental_and_cached(engine: AsyncEngine,
                                                          tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    service = RetrievalService(engine, embedder, check_seconds=0)
    collection = await service.create_collection("handbook", chunk_tokens=64)
    with pytest.raises(Conflict):
        await service.create_collection("handbook")
    docs = _folder(tmp_path / "docs", {
        "keys.md": KEYS, "budgets.md": BUDGETS, "copy/budgets.md": BUDGETS,
        "manual.pdf": make_pdf([["Circuit breakers open after repeated failures."]]),
        "page.html": "<h1>Switches</h1><p>The kill switch turns a model off.</p>",
        "image.png": b"\x89PNG",
    })
    first = await service.ingest_path(collection.id, docs)
    assert (first.added, first.updated, first.unchanged, first.deleted) == (5, 0, 0, 0)
    assert first.failed == {"docs/image.png": "unsupported type"}
    # Two identical files make identical chunks: embedded once.
    assert first.embedded == len(set(embedder.texts)) == first.chunks - 1
    assert first.reused == 1

    embedder.texts.clear()
    again = await service.ingest_path(collection.id, docs)
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 5, 0)
    assert embedder.texts == []

    (docs / "keys.md").write_text(KEYS + "\n## Rotating\n\nRotate keys every ninety days.\n")
    (docs / "copy" / "budgets.md").unlink()
    changed = await service.ingest_path(collection.id, docs)
    assert (changed.added, changed.updated, changed.unchanged, changed.deleted) == (0, 1, 3, 1)
    assert changed.reused >= 1  # the unchanged "Revoking" chunk kept its vector
    sources = [d.source for d in await service.documents("handbook")]
    assert sources == ["docs/budgets.md", "docs/keys.md", "docs/manual.pdf", "docs/page.html"]

    hits = await service.search("handbook", "rotate keys every ninety days", k=3)
    assert hits[0].citation.source == "docs/keys.md"
    assert hits[0].citation.section == "Keys > Rotating"
    text = (docs / "keys.md").read_text()
    assert text[hits[0].citation.start:hits[0].citation.end] == hits[0].text


async def test_search_modes_filters_and_metadata(engine: AsyncEngine) -> None:
    service = RetrievalService(engine, HashingEmbedder(), check_seconds=0)
    collection = await service.create_collection("mixed")
    assert await service.search(collection.id, "anything") == []  # empty collection
    report = await service.ingest(collection.id, [
        SourceDocument("keys.md", KEYS, metadata={"team": "platform", "year": 2024}),
        SourceDocument("budgets.md", BUDGETS, metadata={"team": "finance"}),
        SourceDocument("notes.txt", "Circuit breakers open after five failures.",
                       title="Breaker notes"),
    ])
    assert report.added == 3 and report.version >= 1
    for mode in ("bm25", "vector", "hybrid"):
        hits = await service.search("mixed", "revoke a virtual key", k=2, mode=mode)  # type: ignore[arg-type]
        assert hits[0].citation.source == "keys.md", mode
        assert hits[0].metadata["team"] == "platform"
    filtered = await service.search("mixed", "revoke a virtual key", filters={"team": "finance"})
    assert [h.citation.source for h in filtered] == ["budgets.md"]
    assert await service.search("mixed", "breakers", filters={"title": "Breaker notes"})
    assert await service.search("mixed", "key", mode="bm25", filters={"year": 2024})
    with pytest.raises(InvalidRequest, match="`k`"):
        await service.search("mixed", "key", k=0)
    with pytest.raises(InvalidRequest, match="`mode`"):
        await service.search("mixed", "key", mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(DocumentUnreadable):
        await service.ingest("mixed", [SourceDocument("bad.pdf", b"%PDF-1.4 nope")])
    with pytest.raises(CollectionNotFound):
        await service.search("nope", "key")


class MiniLMNamed(HashingEmbedder):
    """The hashing embedder under the local model's name, so collections get its fusion."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "minilm-l6-v2"


async def test_hybrid_fusion_follows_the_collection_embedder(engine: AsyncEngine) -> None:
    service = RetrievalService(engine, MiniLMNamed(), check_seconds=0)
    collection = await service.create_collection("fused")
    await service.ingest(collection.id, [SourceDocument("keys.md", KEYS),
                                         SourceDocument("budgets.md", BUDGETS)])
    # Convex fusion (MINILM_FUSION): a chunk first in both rankings scores 0.3 + 0.7.
    [top, *_] = await service.search("fused", "revoke a virtual key")
    assert top.citation.source == "keys.md" and top.score == pytest.approx(1.0)
    service.fusion = PLAIN_RRF  # an explicit setting applies to every collection
    [top, *_] = await service.search("fused", "revoke a virtual key")
    assert top.citation.source == "keys.md" and top.score == pytest.approx(2 / 61)


async def test_access_follows_apps_and_tenants(engine: AsyncEngine) -> None:
    directory = OrgDirectory(OrgRepository(engine))
    org = OrgAdmin(OrgRepository(engine), directory)
    tenant = await org.create_tenant("acme")
    await org.create_team("acme", "search")
    bot = await org.create_app("acme/search", "bot")
    other = await org.create_app("acme/search", "other")
    service = RetrievalService(engine, HashingEmbedder(), directory=directory, check_seconds=0)
    shared = await service.create_collection("shared", tenant="acme", apps=["acme/search/bot"])
    await service.create_collection("private", tenant="acme")
    await service.ingest(shared.id, [SourceDocument("keys.md", KEYS)])

    def key(app_id: str, **extra: object) -> Caller:
        return Caller("key_1", "k", None, app=Subject(app_id, "app"),
                      tenant=Subject(tenant.id, "acme"), **extra)  # type: ignore[arg-type]

    assert [c.name for c in await service.list_collections(caller=key(bot.id))] == ["shared"]
    assert await service.search("shared", "revoke", caller=key(bot.id))
    with pytest.raises(CollectionNotFound):
        await service.search(shared.id, "revoke", caller=key(other.id))
    with pytest.raises(PermissionDenied):
        await service.ingest("shared", [], caller=key(bot.id))
    admin = key(other.id, tenant_admin=True)
    assert {c.name for c in await service.list_collections(caller=admin)} == {"private", "shared"}
    with pytest.raises(InvalidRequest, match="not in the collection's tenant"):
        await service.share("shared", ["default/default/default"])
    updated = await service.share("shared", ["acme/search/other"], caller=admin)
    assert updated.apps == (other.id,)
    assert await service.search("shared", "revoke", caller=key(other.id))
    with pytest.raises(CollectionNotFound):
        await service.search("shared", "revoke", caller=key(bot.id))
    await service.delete_collection("shared", caller=admin)
    with pytest.raises(CollectionNotFound):
        await service.collection(shared.id)


async def test_another_process_sees_changes_and_snapshots_reload(engine: AsyncEngine,
                                                                 tmp_path: Path) -> None:
    writer = RetrievalService(engine, HashingEmbedder())
    reader = RetrievalService(engine, HashingEmbedder(), check_seconds=0.05,
                              snapshot_dir=tmp_path / "snap")
    collection = await writer.create_collection("live")
    await writer.ingest(collection.id, [SourceDocument("keys.md", KEYS)])
    assert (await reader.search("live", "revoke"))[0].citation.source == "keys.md"
    assert any((tmp_path / "snap" / collection.id).glob("v*.npz"))
    await writer.ingest(collection.id, [SourceDocument("budgets.md", BUDGETS)])
    await asyncio.sleep(0.1)
    hits = await reader.search("live", "monthly hard budget", k=1)
    assert hits[0].citation.source == "budgets.md"
    # A fresh process loads the snapshot of the current version.
    restarted = RetrievalService(engine, HashingEmbedder(), snapshot_dir=tmp_path / "snap")
    hits = await restarted.search("live", "monthly hard budget", k=1)
    assert hits[0].citation.source == "budgets.md"


class ShortestFirst:
    """A reranker that prefers short chunks, recording how many candidates it saw."""

    def __init__(self) -> None:
        self.seen = 0

    async def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        self.seen = len(hits)
        return sorted(hits, key=lambda h: len(h.text))


async def test_the_reranker_orders_the_candidates(engine: AsyncEngine) -> None:
    reranker = ShortestFirst()
    service = RetrievalService(engine, HashingEmbedder(), reranker=reranker,
                               rerank_candidates=9)
    collection = await service.create_collection("reranked")
    documents = [SourceDocument(f"d{i}.txt", "keys " + "padding " * i) for i in range(12)]
    await service.ingest(collection.id, documents)
    hits = await service.search(collection.id, "keys padding", k=3, mode="bm25")
    assert reranker.seen == 9  # rerank_candidates, though k is 3
    plain = await RetrievalService(engine, HashingEmbedder()).search(
        collection.id, "keys padding", k=9, mode="bm25")
    assert [h.chunk_id for h in hits] == [h.chunk_id for h in
                                          sorted(plain, key=lambda h: len(h.text))[:3]]
    # A request may turn it off; the order is then the first stage's.
    unranked = await service.search(collection.id, "keys padding", k=3, mode="bm25",
                                    rerank=False)
    assert [h.chunk_id for h in unranked] == [h.chunk_id for h in plain[:3]]


async def test_reranking_cost_does_not_grow_with_k(engine: AsyncEngine) -> None:
    """Only the first `rerank_candidates` hits are reordered; the rest keep their order."""
    reranker = ShortestFirst()
    service = RetrievalService(engine, HashingEmbedder(), reranker=reranker, rerank=False,
                               rerank_candidates=4)
    collection = await service.create_collection("deep")
    await service.ingest(collection.id, [SourceDocument(f"d{i}.txt", "keys " + "padding " * i)
                                         for i in range(12)])
    plain = await service.search(collection.id, "keys padding", k=10, mode="bm25")
    assert reranker.seen == 0  # rerank=False: only when a request asks
    hits = await service.search(collection.id, "keys padding", k=10, mode="bm25", rerank=True)
    assert reranker.seen == 4 and len(hits) == 10
    head = sorted(plain[:4], key=lambda h: len(h.text))
    assert [h.chunk_id for h in hits] == [h.chunk_id for h in [*head, *plain[4:]]]


async def test_asking_to_rerank_without_a_reranker_is_a_clear_error(
        engine: AsyncEngine) -> None:
    service = RetrievalService(engine, HashingEmbedder())
    collection = await service.create_collection("plain")
    await service.ingest(collection.id, [SourceDocument("a.txt", "keys rotate daily")])
    with pytest.raises(RerankerUnavailable) as caught:
        await service.search(collection.id, "keys", rerank=True)
    assert caught.value.code == "reranker_unavailable" and caught.value.http_status == 400
    assert caught.value.param == "rerank"
    assert len(await service.search(collection.id, "keys", rerank=False)) == 1


async def test_a_large_index_answers_while_it_rebuilds(engine: AsyncEngine) -> None:
    # inline_limit=1 makes two chunks "large": the searches after a change use the old index.
    service = RetrievalService(engine, HashingEmbedder(), inline_limit=1)
    collection = await service.create_collection("big")
    await service.ingest(collection.id, [SourceDocument("keys.md", KEYS),
                                         SourceDocument("notes.txt", "Unrelated notes.")])
    assert (await service.search("big", "revoke key", k=1))[0].citation.source == "keys.md"
    await service.ingest(collection.id, [SourceDocument("budgets.md", BUDGETS)])
    stale = await service.search("big", "monthly hard budget")
    assert "budgets.md" not in {h.citation.source for h in stale}  # answered, not stalled
    await service.indexes.wait()
    fresh = await service.search("big", "monthly hard budget", k=1)
    assert fresh[0].citation.source == "budgets.md"
