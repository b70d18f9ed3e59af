"""The prompt registry on PostgreSQL: the migration, version numbering and hashes, label
moves with history, gate results in order, and a gateway rendering from it."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from pavedroad.store.database import create_engine, migrate
from pavedroad.store.org import DEFAULT_APP, DEFAULT_TENANT
from pavedroad.store.prompts import PromptRepository
from tests.support.ledger import wait_for_rows
from tests.support.servers import RunningGateway, Sim
from tests.support.services import PostgresServer

pytestmark = pytest.mark.timeout(90)

PROMPT = {"id": "pg", "model": "m", "variables": ["who"],
          "messages": [{"role": "user", "content": "Hello {{ who }}"}]}


def test_prompts_on_postgresql(
    sim: Sim, gateway_factory: Callable[..., RunningGateway], postgres: PostgresServer
) -> None:
    url = postgres.database(f"prompts_{os.getpid()}_{int(time.time() * 1000)}")
    gw = gateway_factory(json.dumps({
        "store": {"url": url}, "metering": {"ledger": {"flush_seconds": 0.05}},
        "deployments": [{"name": "sim", "provider": "openai_compatible", "model": "gpt-4o-mini",
                         "region": "local",  # approved for high-risk apps
                         "api_base": f"{sim.url}/v1"}],
        "models": [{"name": "m", "route": "sim"}],
    }))
    gw.ensure_app("t/team/risky", risk_class="high")
    key = gw.create_key(name="pg", app="t/team/risky")
    with gw.client() as admin:
        for text, expected in (("Hello {{ who }}", 1), ("Hi {{ who }}", 2),
                               ("Hello {{ who }}", 1)):
            body = {**PROMPT, "app": "t/team/risky",
                    "messages": [{"role": "user", "content": text}]}
            assert admin.post("/admin/prompts", json=body).json()["version"] == expected
        gate = "/admin/prompts/pg/versions/{}/gate-results"
        for version, passed in ((1, True), (2, False), (2, True)):
            assert admin.post(gate.format(version), json={
                "passed": passed, "gate": "g", "run_id": f"r{version}"}).status_code == 201
        for version in (1, 2):
            moved = admin.post("/admin/prompts/pg/labels/production", json={"version": version})
            assert moved.status_code == 200, moved.text
        assert admin.post("/admin/prompts/pg/labels/production/rollback").json()["to"] == 1
        shown = admin.get("/admin/prompts/pg").json()
    assert [g["passed"] for g in shown["gate_results"]] == [True]
    assert [(m["from"], m["to"], m["action"]) for m in shown["history"]] == [
        (None, 1, "move"), (1, 2, "move"), (2, 1, "rollback")]
    response = httpx.post(f"{gw.url}/v1/chat/completions", timeout=15,
                          headers={"authorization": f"Bearer {key}"},
                          json={"prompt": {"id": "pg", "variables": {"who": "pg"}}})
    assert response.status_code == 200, response.text
    assert "Hello pg" in response.json()["choices"][0]["message"]["content"]
    request_id = response.headers["x-pavedroad-request-id"]
    row = wait_for_rows(gw.url, [request_id])[request_id]
    assert (row["prompt_id"], row["prompt_version"]) == ("pg", 1)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_label_moves_cannot_both_win(
        backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Two admins promote from the same state at once: one wins, the other is told to look
    again. A read-then-write let both through on PostgreSQL (the second overwrote the first
    and the history showed two moves from the same version)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/labels.db"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.database(f"labels_{os.getpid()}_{int(time.time() * 1000)}")
    migrate(url)

    async def race() -> tuple[list[object], list[tuple[int | None, int]]]:
        engine = create_engine(url)
        try:
            repository = PromptRepository(engine)
            for text in ("one", "two", "three"):
                prompt_id, _, _ = await repository.add_version(
                    app_id=DEFAULT_APP, tenant_id=DEFAULT_TENANT, name="race", description="",
                    content={"template": text}, content_hash=text, note="", actor="t", now=1.0)
            outcomes: list[object] = []
            for expected, targets in ((None, (1, 2)), (1, (2, 3))):
                outcomes += await asyncio.gather(*(
                    repository.move_label(prompt_id, "production", version=v, expected=expected,
                                          action="move", actor="t", now=2.0)
                    for v in targets), return_exceptions=True)
            history = [(m.from_version, m.to_version) for m in await repository.history(prompt_id)]
            return outcomes, history
        finally:
            await engine.dispose()

    outcomes, history = asyncio.run(race())
    assert [type(o).__name__ for o in outcomes].count("Conflict") == 2, outcomes
    assert len(history) == 2 and history[0][0] is None and history[1][0] == history[0][1]
