"""Two gateway processes sharing one PostgreSQL database and one Redis, in front of the
simulator: limits, budgets and the cache hold for both replicas together, as they would
for one gateway (docs/adr/0013-redis-scale-out.md).

Both replicas serve the whole module; every test uses its own keys, apps and upstream
model names, so what one test spends or caches never touches another's.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support.budgets import COST, HI, budgets, set_budget, wait_for
from tests.support.replicas import Replica, start_replica, wait_until
from tests.support.servers import Sim
from tests.support.services import PostgresServer, RedisServer

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]

UPSTREAMS = ("up-so-rpm", "up-so-budget", "up-so-conc", "up-so-cache", "up-so-tenants")


def replica_config(sim: Sim, database: str, redis: RedisServer, prefix: str,
                   journal: Path) -> dict[str, Any]:
    """One priced deployment per test (input free, output $1000 per 1M tokens)."""
    return {
        "store": {"url": database},
        "redis": {"url": redis.url, "key_prefix": prefix, "max_connections": 32},
        "server": {"log_level": "warning"},
        "auth": {"refresh_seconds": 0.2},
        "metering": {"ledger": {"journal_dir": str(journal), "flush_seconds": 0.2}},
        "deployments": [{"name": name, "provider": "openai_compatible", "model": name,
                         "api_base": f"{sim.url}/v1", "retries": {"attempts": 0},
                         "pricing": {"input": 0, "output": 1000}} for name in UPSTREAMS],
        "models": [{"name": name.removeprefix("up-so-"), "route": name} for name in UPSTREAMS],
    }


@pytest.fixture(scope="module")
def prefix() -> str:
    """The replicas' `redis.key_prefix`: nobody else's keys."""
    return f"so{uuid.uuid4().hex[:8]}:"


@pytest.fixture(scope="module")
def replicas(sim_session: Sim, postgres: PostgresServer, redis_server: RedisServer, prefix: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Replica, Replica]]:
    database = postgres.database(f"scale_{os.getpid()}_{int(time.time() * 1000)}")
    base = tmp_path_factory.mktemp("scale-out")
    started: list[Replica] = []
    try:
        for name in ("one", "two"):
            config = replica_config(sim_session, database, redis_server, prefix,
                                    base / f"journal-{name}")
            started.append(start_replica(config, base, name))
        yield started[0], started[1]
    finally:
        for replica in started:
            replica.stop()


def key_for_both(replicas: tuple[Replica, Replica], **body: Any) -> str:
    """A key created on the first replica, once the second has loaded it too."""
    key = replicas[0].create_key(**body)
    wait_until(lambda: replicas[1].knows_key(key), what="the second replica to load the key")
    return key


def fresh() -> list[dict[str, str]]:
    return [{"role": "user", "content": f"a question never asked {uuid.uuid4().hex}"}]


def chat(replica: Replica, key: str, model: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{replica.url}/v1/chat/completions", timeout=30,
                      headers={"authorization": f"Bearer {key}"},
                      json={"model": model, "messages": HI, "max_tokens": 5, **body})


async def burst(replicas: tuple[Replica, Replica], keys: list[str], model: str,
                count: int) -> list[httpx.Response]:
    """`count` requests at once, alternating replicas and keys."""
    clients = [httpx.AsyncClient(base_url=r.url, timeout=30,
                                 limits=httpx.Limits(max_connections=count)) for r in replicas]
    try:
        return await asyncio.gather(*(clients[i % 2].post(
            "/v1/chat/completions", headers={"authorization": f"Bearer {keys[i % len(keys)]}"},
            json={"model": model, "messages": HI, "max_tokens": 5}) for i in range(count)))
    finally:
        for client in clients:
            await client.aclose()


def test_a_key_limited_to_n_per_minute_gets_n_across_both_replicas(
    sim: Sim, replicas: tuple[Replica, Replica]
) -> None:
    key = key_for_both(replicas, limits={"rpm": 6})
    codes = [chat(replica, key, "rpm").status_code
             for replica in itertools.islice(itertools.cycle(replicas), 12)]
    assert codes == [200] * 6 + [429] * 6  # three each, then both refuse
    assert sim.stats()["by_model"]["up-so-rpm"] == 6
    refused = chat(replicas[1], key, "rpm")
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 9 <= int(refused.headers["retry-after"]) <= 10  # 6 per minute: one per 10 s


def test_200_concurrent_requests_on_two_replicas_against_a_budget_allowing_10(
    sim: Sim, replicas: tuple[Replica, Replica]
) -> None:
    sim.fault("up-so-budget", latency_ms=300)  # all in flight at once: only reservations stop them
    app = replicas[0].ensure_app("budgetco/search/copilot")
    keys = [key_for_both(replicas, app=app) for _ in range(4)]
    budget = set_budget(replicas[0], "team", "budgetco/search", 10 * COST)
    wait_until(lambda: budget["id"] in budgets(replicas[1]), what="the budget on replica two")
    time.sleep(0.6)  # three refresh ticks: replica two enforces it

    responses = asyncio.run(burst(replicas, keys, "budget", 200))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 10 and codes.count(402) == 190
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 402} \
        == {"budget_exceeded"}
    assert sim.stats()["by_model"]["up-so-budget"] == 10
    wait_for(lambda: budgets(replicas[1])[budget["id"]]["reserved"] == 0)
    for replica in replicas:  # both see the same account: spent exactly, never past it
        final = budgets(replica)[budget["id"]]
        assert final["spent"] == pytest.approx(10 * COST, abs=1e-9)
        assert final["spent"] <= final["amount"]


def test_a_concurrency_limit_holds_across_replicas_and_frees_when_requests_end(
    sim: Sim, replicas: tuple[Replica, Replica]
) -> None:
    sim.fault("up-so-conc", latency_ms=1000)
    key = key_for_both(replicas, limits={"concurrent": 3})
    responses = asyncio.run(burst(replicas, [key], "conc", 20))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 3 and codes.count(429) == 17
    assert sim.stats()["by_model"]["up-so-conc"] == 3
    sim.reset()  # the slots come back as the requests end (released off the answer's path)
    for replica in replicas:
        wait_until(lambda r=replica: chat(r, key, "conc").status_code == 200,
                   seconds=5, what="a free slot")


def test_a_response_cached_by_one_replica_is_a_hit_on_the_other(
    sim: Sim, replicas: tuple[Replica, Replica]
) -> None:
    app = replicas[0].ensure_app("cacheco/core/search", settings={"cache": {"enabled": True}})
    key = key_for_both(replicas, app=app)
    question = fresh()
    first = chat(replicas[0], key, "cache", messages=question, max_tokens=500)
    assert first.status_code == 200 and first.headers["x-pavedroad-cache"] == "miss"
    assert first.json()["choices"][0]["finish_reason"] == "stop"  # complete: cacheable
    wait_until(lambda: chat(replicas[1], key, "cache", messages=question, max_tokens=500)
               .headers["x-pavedroad-cache"] == "hit", what="a hit on replica two")
    second = chat(replicas[1], key, "cache", messages=question, max_tokens=500)
    assert second.headers["x-pavedroad-cache"] == "hit"
    assert second.json()["choices"] == first.json()["choices"]
    assert sim.stats()["by_model"]["up-so-cache"] == 1


def test_tenants_stay_isolated_on_the_shared_stores(
    sim: Sim, replicas: tuple[Replica, Replica], redis_server: RedisServer, prefix: str
) -> None:
    with replicas[0].client() as admin:  # a tenant-wide limit of 2 per minute for acme only
        created = admin.post("/admin/tenants", json={"name": "isoacme", "limits": {"rpm": 2}})
        assert created.status_code == 201
        acme_id = created.json()["id"]
    cached = {"settings": {"cache": {"enabled": True}}}
    acme = key_for_both(replicas, app=replicas[0].ensure_app("isoacme/core/bot", **cached))
    globex = key_for_both(replicas, app=replicas[0].ensure_app("isoglobex/core/bot", **cached))
    question = fresh()
    assert chat(replicas[0], acme, "tenants", messages=question, max_tokens=500
                ).status_code == 200
    entries = redis.Redis(port=redis_server.port)  # keyed by tenant id, then app id
    wait_until(lambda: bool(entries.keys(f"{prefix}cache:v1:{acme_id}:*")), what="acme's entry")
    other = chat(replicas[1], globex, "tenants", messages=question, max_tokens=500)
    assert other.status_code == 200 and other.headers["x-pavedroad-cache"] == "miss"
    # acme uses up its tenant limit (new questions: no cache hits) ...
    assert chat(replicas[1], acme, "tenants", messages=fresh()).status_code == 200
    assert chat(replicas[0], acme, "tenants", messages=fresh()).status_code == 429
    # ... and globex, whose team and app have the same names, is not limited by it.
    assert [chat(r, globex, "tenants", messages=fresh()).status_code for r in replicas] \
        == [200, 200]
    assert sim.stats()["by_model"]["up-so-tenants"] == 5
