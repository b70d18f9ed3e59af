"""Retrieval embedding through the gateway's own routing: a `kind: embedding` model (here on
the simulator) embeds a collection's chunks and its queries."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.servers import RunningGateway, Sim

CONFIG = """
store: {url: "{db}"}
retrieval: {embedder: embed, embedding_dimensions: {dims}}
deployments:
  - {name: sim-embed, provider: openai_compatible, model: up-embed, api_base: "{sim}/v1"}
  - {name: grounded, provider: grounded, model: notes, pricing: {input: 0, output: 0}}
models:
  - {name: embed, kind: embedding, route: sim-embed}
  - {name: pavedroad/grounded, route: grounded}
"""

NOTES = """# Notes

## Backups

Backups run every night at two and are kept for thirty days.
"""


def _start(factory: Callable[..., RunningGateway], sim: Sim, dims: int) -> RunningGateway:
    return factory(CONFIG.replace("{sim}", sim.url).replace("{dims}", str(dims)))


def _ingest(client: httpx.Client) -> httpx.Response:
    assert client.post("/admin/collections", json={"name": "notes"}).status_code == 201
    return client.post("/admin/collections/notes/documents",
                       json={"documents": [{"source": "notes.md", "text": NOTES}]})


def test_collections_embed_through_the_embedding_model(
        sim: Sim, gateway_factory: Callable[..., RunningGateway]) -> None:
    gw = _start(gateway_factory, sim, 16)  # the simulator's default width
    before = sim.stats()["requests"]
    with gw.client() as admin:
        ingested = _ingest(admin)
        assert ingested.status_code == 200, ingested.text
        assert ingested.json()["embedded"] >= 1
        detail = admin.get("/admin/collections/notes").json()
        assert detail["embedder"] == "gateway:embed"
        found = admin.post("/v1/collections/notes/search",
                           json={"query": "how long are backups kept", "mode": "vector"})
        assert found.status_code == 200, found.text
        assert found.json()["data"][0]["citation"]["source"] == "notes.md"
        answer = admin.post("/v1/chat/completions", json={
            "model": "pavedroad/grounded",
            "messages": [{"role": "user", "content": "How long are backups kept?"}]}).json()
    assert "kept for thirty days. [1]" in answer["choices"][0]["message"]["content"]
    assert sim.stats()["requests"] >= before + 3  # chunks, then each query


def test_a_width_mismatch_names_the_setting(
        sim: Sim, gateway_factory: Callable[..., RunningGateway]) -> None:
    gw = _start(gateway_factory, sim, 384)
    with gw.client() as admin:
        failed = _ingest(admin)
    assert failed.status_code == 502
    error = failed.json()["error"]
    assert error["code"] == "upstream_bad_response"
    assert "retrieval.embedding_dimensions" in error["message"]
