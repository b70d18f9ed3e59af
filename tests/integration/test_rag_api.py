"""Retrieval over real HTTP: collection admin, JSON and multipart ingestion, search with a
normal virtual key, and the errors a caller sees."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from pavedroad.rag import rerank_onnx
from tests.integration.conftest import STANDARD
from tests.support.pdf import make_pdf
from tests.support.servers import RunningGateway, Sim

GUIDE = """# Operations guide

## Revoking keys

Revoke a leaked virtual key at once with `pavedroad keys revoke`; it stops working within
half a second on every gateway.

## Budgets

A hard budget blocks requests once the month's amount is spent.
"""


def _error(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_collection_lifecycle_ingest_and_search(standard_gateway: RunningGateway) -> None:
    gw = standard_gateway
    gw.ensure_app("acme/search/bot")
    gw.ensure_app("acme/search/other")
    bot_key = gw.create_key(app="acme/search/bot")
    other_key = gw.create_key(app="acme/search/other")
    with gw.client() as admin:
        created = admin.post("/admin/collections", json={
            "name": "ops", "tenant": "acme", "apps": ["acme/search/bot"], "chunk_tokens": 64})
        assert created.status_code == 201, created.text
        collection = created.json()
        assert collection["apps"] and collection["chunk_tokens"] == 64
        assert _error(admin.post("/admin/collections", json={"name": "ops",
                                                             "tenant": "acme"})) == "conflict"

        ingested = admin.post(f"/admin/collections/{collection['id']}/documents", json={
            "documents": [{"source": "guide.md", "text": GUIDE,
                           "metadata": {"owner": "platform"}}]})
        assert ingested.status_code == 200, ingested.text
        assert ingested.json()["added"] == 1 and ingested.json()["chunks"] >= 2

        uploaded = admin.post(f"/admin/collections/{collection['id']}/documents",
                              files=[("files", ("manual.pdf", make_pdf(
                                  [["Circuit breakers open after five failures in a row."]]),
                                  "application/pdf")),
                                     ("files", ("notes.txt", b"Caching is scoped per app.",
                                                "text/plain"))],
                              data={"metadata": '{"owner": "sre"}'})
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["added"] == 2

        detail = admin.get(f"/admin/collections/{collection['id']}").json()
        assert [d["source"] for d in detail["documents"]] == ["guide.md", "manual.pdf",
                                                              "notes.txt"]
        assert admin.get("/admin/collections").json()["data"][0]["name"] == "ops"

    _search_as_app_keys(gw, bot_key, other_key, collection["id"])

    with gw.client() as admin:
        shared = admin.put(f"/admin/collections/{collection['id']}/apps",
                           json={"apps": ["acme/search/other"]})
        assert shared.status_code == 200 and len(shared.json()["apps"]) == 1
        deleted = admin.delete("/admin/collections/ops")
        assert deleted.status_code == 200 and deleted.json()["deleted"] is True
        gone = admin.post("/v1/collections/ops/search", json={"query": "revoke"})
        assert gone.status_code == 404 and _error(gone) == "collection_not_found"


def _search_as_app_keys(gw: RunningGateway, bot_key: str, other_key: str,
                        collection_id: str) -> None:
    """The app the collection is shared with searches it; another app cannot see it."""
    with httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {bot_key}"}) as bot:
        assert [c["name"] for c in bot.get("/v1/collections").json()["data"]] == ["ops"]
        found = bot.post("/v1/collections/ops/search",
                         json={"query": "how do I revoke a leaked key", "k": 2})
        assert found.status_code == 200, found.text
        top = found.json()["data"][0]
        assert top["rank"] == 1 and top["score"] > 0
        assert top["citation"]["source"] == "guide.md"
        assert top["citation"]["section"] == "Operations guide > Revoking keys"
        assert GUIDE[top["citation"]["start"]:top["citation"]["end"]] == top["text"]
        assert top["metadata"]["owner"] == "platform"

        pdf = bot.post("/v1/collections/ops/search", json={
            "query": "breakers", "mode": "bm25", "filters": {"owner": "sre"}}).json()["data"]
        assert pdf[0]["citation"]["source"] == "manual.pdf"
        assert pdf[0]["citation"]["section"] == "Page 1"

        bad_k = bot.post("/v1/collections/ops/search", json={"query": "x", "k": 1000})
        assert bad_k.status_code == 400 and _error(bad_k) == "invalid_request"
        assert "`k`" in bad_k.json()["error"]["message"]
        no_query = bot.post("/v1/collections/ops/search", json={"k": 3})
        assert no_query.status_code == 400 and no_query.json()["error"]["param"] == "query"
        denied = bot.post(f"/admin/collections/{collection_id}/documents",
                          json={"documents": [{"source": "x.md", "text": "x"}]})
        assert denied.status_code == 403 and _error(denied) == "permission_denied"

    with httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {other_key}"}) as other:
        hidden = other.post("/v1/collections/ops/search", json={"query": "revoke"})
        assert hidden.status_code == 404 and _error(hidden) == "collection_not_found"
        assert other.get("/v1/collections").json()["data"] == []


def test_ingestion_errors_are_clear(standard_gateway: RunningGateway) -> None:
    with standard_gateway.client() as admin:
        admin.post("/admin/collections", json={"name": "docs"})
        docx = admin.post("/admin/collections/docs/documents",
                          files=[("files", ("report.docx", b"PK\x03\x04", "application/zip"))])
        assert docx.status_code == 415 and _error(docx) == "unsupported_document_type"
        assert "report.docx" in docx.json()["error"]["message"]
        broken = admin.post("/admin/collections/docs/documents",
                            files=[("files", ("scan.pdf", b"%PDF-1.4 not really",
                                              "application/pdf"))])
        assert broken.status_code == 400 and _error(broken) == "document_unreadable"
        empty = admin.post("/admin/collections/docs/documents", json={"documents": []})
        assert empty.status_code == 400 and empty.json()["error"]["param"] == "documents"
        wrong_field = admin.post("/admin/collections/docs/documents",
                                 files=[("upload", ("a.md", b"# A", "text/markdown"))])
        assert wrong_field.status_code == 400 and "files" in wrong_field.json()["error"]["message"]
        typo = admin.post("/admin/collections", json={"name": "x", "chunk_tokns": 10})
        assert typo.status_code == 400
        bad_name = admin.post("/admin/collections", json={"name": "has space"})
        assert bad_name.status_code == 400 and bad_name.json()["error"]["param"] == "name"
        missing = admin.post("/admin/collections/nope/documents",
                             json={"documents": [{"source": "a.md", "text": "x"}]})
        assert missing.status_code == 404 and _error(missing) == "collection_not_found"
        prune = admin.post("/admin/collections/docs/documents", json={
            "documents": [{"source": "a.md", "text": "# A"}, {"source": "b.md", "text": "# B"}]})
        assert prune.json()["added"] == 2
        pruned = admin.post("/admin/collections/docs/documents", json={
            "documents": [{"source": "a.md", "text": "# A"}], "prune": True}).json()
        assert (pruned["unchanged"], pruned["deleted"]) == (1, 1)
        page = admin.get("/admin/audit", params={"limit": 1000}).json()["data"]
    changes = [r for r in page if r["kind"] == "admin" and r["action"].startswith("collection.")]
    assert [r["action"] for r in changes] == ["collection.create", "collection.ingest",
                                              "collection.ingest"]
    assert changes[0]["after"]["name"] == "docs" and changes[0]["actor"].startswith("key:")
    assert changes[-1]["after"]["deleted"] == 1  # the pruning ingest


CITIES = [{"source": f"{name}.md", "text": text} for name, text in [
    ("paris", "# Paris\n\nParis is the capital of France and its most populous city."),
    ("museums", "# Museums\n\nHow many people visit museums? Many people live near one."),
    ("berlin", "# Berlin\n\nBerlin has about 3.7 million registered inhabitants."),
]]


@pytest.mark.skipif(not rerank_onnx.available(), reason="pavedroad[onnx] not installed")
def test_search_reranks_when_asked(standard_gateway: RunningGateway) -> None:
    """`retrieval.reranker` is auto (the cross-encoder) and `retrieval.rerank` off: a search
    reranks only when it asks, and the reranked scores are the blend's (0..1)."""
    with standard_gateway.client() as admin:
        admin.post("/admin/collections", json={"name": "cities"})
        added = admin.post("/admin/collections/cities/documents", json={"documents": CITIES})
        assert added.status_code == 200, added.text
        query = {"query": "how many people live in Berlin", "k": 3}
        plain = admin.post("/v1/collections/cities/search", json=query).json()["data"]
        again = admin.post("/v1/collections/cities/search",
                           json={**query, "rerank": False}).json()["data"]
        assert [h["score"] for h in again] == [h["score"] for h in plain]
        reranked = admin.post("/v1/collections/cities/search", json={**query, "rerank": True})
        assert reranked.status_code == 200, reranked.text
        hits = reranked.json()["data"]
        assert hits[0]["citation"]["source"] == "berlin.md" and hits[0]["rank"] == 1
        assert sorted(h["chunk_id"] for h in hits) == sorted(h["chunk_id"] for h in plain)
        assert [h["score"] for h in hits] != [h["score"] for h in plain]
        assert all(0.0 <= h["score"] <= 1.0 for h in hits)
        wrong = admin.post("/v1/collections/cities/search", json={**query, "rerank": "yes"})
        assert wrong.status_code == 400 and _error(wrong) == "invalid_request"


def test_rerank_without_a_reranker_is_a_clear_400(
        sim: Sim, gateway_factory: Callable[..., RunningGateway]) -> None:
    gw = gateway_factory(STANDARD.replace("{sim}", sim.url) + "retrieval: {reranker: none}\n")
    with gw.client() as admin:
        admin.post("/admin/collections", json={"name": "cities"})
        admin.post("/admin/collections/cities/documents", json={"documents": CITIES})
        refused = admin.post("/v1/collections/cities/search",
                             json={"query": "Berlin inhabitants", "rerank": True})
        assert refused.status_code == 400 and _error(refused) == "reranker_unavailable"
        assert refused.json()["error"]["param"] == "rerank"
        assert "retrieval.reranker" in refused.json()["error"]["message"]
        found = admin.post("/v1/collections/cities/search", json={"query": "Berlin inhabitants"})
        assert found.status_code == 200 and found.json()["data"]
