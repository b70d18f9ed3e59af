"""`pavedroad up`'s default: the handbook (the project's own docs) is ingested, a second
start skips it, and the official openai SDK gets a cited answer from `pavedroad/grounded`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from openai import OpenAI

from pavedroad.api.app import create_app
from pavedroad.cli.demo import GROUNDED_MODEL, demo_settings
from pavedroad.config.models import Settings
from pavedroad.config.retrieval import RetrievalConfig
from pavedroad.rag.ingest import SourceDocument
from pavedroad.rag.service import build_retrieval
from pavedroad.service.gateway import build_gateway
from pavedroad.service.handbook import (
    handbook_documents,
    handbook_root,
    is_pavedroad_checkout,
    seed_handbook,
)
from pavedroad.service.org import OrgDirectory
from pavedroad.store.database import create_engine, migrate
from pavedroad.store.org import OrgRepository
from tests.support.servers import MASTER_KEY, ThreadServer, start_sim


def _settings(tmp_path: Path, sim_port: int) -> Settings:
    env = {"PAVEDROAD_STORE_URL": f"sqlite:///{tmp_path}/pavedroad.db",
           "PAVEDROAD_MASTER_KEY": MASTER_KEY}
    settings = demo_settings(sim_port=sim_port, env=env)
    # The hashing embedder keeps this test fast; `make run` uses the local model if installed.
    return settings.model_copy(update={"retrieval": RetrievalConfig(embedder="hashing")})


def test_handbook_is_found_and_covers_readme_and_adrs() -> None:
    root = handbook_root()
    assert root is not None
    sources = {d.source for d in handbook_documents(root)}
    assert "README.md" in sources and "docs/configuration.md" in sources
    assert any(s.startswith("docs/adr/0015") for s in sources)


def test_up_default_answers_from_the_docs_with_citations(tmp_path: Path) -> None:
    sim = start_sim()
    settings = _settings(tmp_path, int(sim.url.rsplit(":", 1)[1]))
    messages: list[str] = []
    first = seed_handbook(settings, progress=messages.append)
    assert first is not None and first.added > 20 and first.chunks > 0
    again = seed_handbook(settings, progress=messages.append)
    assert again is not None and again.added == 0 and again.unchanged == first.added
    assert again.chunks == 0  # nothing re-embedded
    gateway = build_gateway(settings, env={"PAVEDROAD_MASTER_KEY": MASTER_KEY})
    server = ThreadServer(create_app(gateway)).start()
    try:
        client = OpenAI(base_url=f"{server.url}/v1", api_key=MASTER_KEY, max_retries=0)
        reply = client.chat.completions.create(model=GROUNDED_MODEL, messages=[
            {"role": "user", "content": "Which storage backends does the spend ledger use, "
                                        "and what happens when the gateway is killed?"}])
        text = reply.choices[0].message.content or ""
        assert "[1]" in text and "Sources:" in text
        citations = (reply.model_extra or {})["citations"]
        assert citations and all(c["collection"] for c in citations)
        assert any(c["source"] in ("README.md", "docs/adr/0007-spend-ledger-durability.md")
                   for c in citations), citations
        cheap = client.chat.completions.create(model="cheapest", messages=[
            {"role": "user", "content": "What is the capital of Australia?"}])
        assert cheap.choices[0].message.content == (
            'I found nothing in handbook about "What is the capital of Australia?".')
        # Safe mode sends any model to the grounded deployment (and so does the last fallback).
        with httpx.Client(base_url=server.url,
                          headers={"authorization": f"Bearer {MASTER_KEY}"}) as admin:
            admin.post("/admin/safe-mode", json={"scope": "global", "name": "all",
                                                 "enabled": True}).raise_for_status()
        safe = client.chat.completions.with_raw_response.create(model="demo", messages=[
            {"role": "user", "content": "How do I revoke a virtual key?"}])
        assert safe.headers["x-pavedroad-safe-mode"] == "global"
        assert "grounded-handbook:ok" in safe.headers["x-pavedroad-route"]
        assert "Sources:" in (safe.parse().choices[0].message.content or "")
    finally:
        server.stop()
        sim.server.stop()


def test_another_projects_docs_are_not_the_handbook(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# Someone else\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')
    assert not is_pavedroad_checkout(tmp_path)
    root = handbook_root()
    assert root is not None and is_pavedroad_checkout(root)


def test_a_handbook_collection_someone_else_made_is_left_alone(tmp_path: Path) -> None:
    """Seeding mirrors the docs with pruning: run on an operator's own `handbook`, it
    would delete their documents. It leaves a collection it did not create untouched."""
    settings = _settings(tmp_path, 9)
    migrate(settings.store.url)

    async def own_handbook(add: bool) -> list[str]:
        engine = create_engine(settings.store.url)
        try:
            service = build_retrieval(settings, engine, OrgDirectory(OrgRepository(engine)))
            if add:
                await service.create_collection("handbook", description="our HR handbook")
                await service.ingest("handbook", [SourceDocument(
                    "leave.md", b"# Leave\n\nEveryone gets thirty days of paid leave a year.\n")])
            return [d.source for d in await service.documents("handbook")]
        finally:
            await engine.dispose()

    assert asyncio.run(own_handbook(True)) == ["leave.md"]
    docs = tmp_path / "docs-root"
    (docs / "docs").mkdir(parents=True)
    (docs / "README.md").write_text("# pavedroad\n\nA gateway for the models you run.\n")
    messages: list[str] = []
    assert seed_handbook(settings, root=docs, progress=messages.append) is None
    assert "leaving it untouched" in messages[-1]
    assert asyncio.run(own_handbook(False)) == ["leave.md"]
