"""The same store behaviour on the embedded default (SQLite) and on PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.core.errors import Conflict, NotFound
from pavedroad.service.keys import KeyAdmin
from pavedroad.service.org import OrgAdmin, OrgDirectory
from pavedroad.store.database import create_engine, migrate
from pavedroad.store.keys import KeyRepository
from pavedroad.store.org import OrgRepository
from pavedroad.store.switches import SwitchRepository
from tests.support.servers import MASTER_KEY, RunningGateway, Sim
from tests.support.services import PostgresServer

_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.database(f"store_{next(_names)}_{int(time.time())}")


@pytest.fixture
async def engine(store_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(migrate, store_url)
    await asyncio.to_thread(migrate, store_url)  # idempotent
    engine = create_engine(store_url)
    yield engine
    await engine.dispose()


async def test_keys_org_and_switches(engine: AsyncEngine) -> None:
    directory = OrgDirectory(OrgRepository(engine))
    org = OrgAdmin(OrgRepository(engine), directory)
    await org.create_tenant("acme", limits={"rpm": 10})
    await org.create_team("acme", "search")
    app = await org.create_app("acme/search", "bot", tags={"env": "prod"}, fail_mode="closed")
    with pytest.raises(Conflict):
        await org.create_app("acme/search", "bot")
    with pytest.raises(NotFound):
        await org.create_team("nobody", "x")

    # A second directory (another replica) sees everything through an incremental refresh.
    replica = OrgDirectory(OrgRepository(engine))
    assert await replica.refresh() >= 6  # 3 defaults + 3 new
    assert replica.path(app.id) == "acme/search/bot"
    assert replica.tenant("acme").limits == {"rpm": 10}
    assert await replica.refresh() >= 0

    keys = KeyAdmin(KeyRepository(engine), directory, known_models=["m"])
    created = await keys.create(name="k1", app="acme/search/bot", models=["m"],
                                limits={"tpm": 1000}, tags={"feature": "x"})
    assert created.record.app_id == app.id
    since = time.time() - 60
    changed = await KeyRepository(engine).changed_since(since)
    assert [r.id for r in changed] == [created.record.id]
    assert changed[0].limits == {"tpm": 1000} and changed[0].tags == {"feature": "x"}
    revoked = await keys.revoke("k1")
    assert revoked.revoked_at is not None
    assert await keys.list() == []
    assert len(await keys.list(include_revoked=True)) == 1

    switches = SwitchRepository(engine)
    await switches.put("deployment", "a", disabled=True, reason="r", by="t")
    await switches.put("deployment", "a", disabled=False, reason="", by="t")
    await switches.put("model", "m", disabled=True, reason="", by="t")
    assert await switches.disabled() == {("model", "m")}


def test_gateway_on_postgres_serves_keys_created_by_another_replica(
    postgres: PostgresServer, sim: Sim, gateway_factory: Callable[..., RunningGateway]
) -> None:
    url = postgres.database(f"gw_{next(_names)}_{int(time.time())}")
    config = f"""
store: {{url: "{url}"}}
deployments:
  - {{name: up, provider: openai_compatible, model: up-m, api_base: "{sim.url}/v1"}}
models:
  - {{name: m, route: up}}
"""
    first = gateway_factory(config)
    second = gateway_factory(config)
    first.ensure_app("acme/search/bot")
    key = first.create_key(app="acme/search/bot", models=["m"])
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    deadline = time.monotonic() + 3
    status = 0
    while time.monotonic() < deadline:
        status = httpx.post(f"{second.url}/v1/chat/completions", json=body,
                            headers={"authorization": f"Bearer {key}"}).status_code
        if status == 200:
            break
        time.sleep(0.1)
    assert status == 200
    with httpx.Client(base_url=second.url,
                      headers={"authorization": f"Bearer {MASTER_KEY}"}) as admin:
        assert admin.get("/readyz").json()["checks"]["store"] is True
