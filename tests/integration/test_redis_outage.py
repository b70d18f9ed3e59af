"""Redis down, then back empty: apps that fail open are served, apps that fail closed get 503
`store_unavailable`, `/readyz` says why, and budgets come back from the ledger instead of
from zero (docs/adr/0013-redis-scale-out.md). Uses a Redis of its own, stopped mid-test."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.budgets import COST, budgets, chat, set_budget, wait_for
from tests.support.replicas import wait_until
from tests.support.servers import RunningGateway, Sim
from tests.support.services import RedisServer, start_redis

pytestmark = [pytest.mark.timeout(60), pytest.mark.slow]


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


def restart_empty(server: RedisServer) -> None:
    """The same port, nothing kept: a Redis without persistence after a restart."""
    subprocess.run(["redis-server", "--port", str(server.port), "--bind", "127.0.0.1",
                    "--daemonize", "yes", "--save", "", "--appendonly", "no",
                    "--pidfile", str(server.pidfile)], check=True, capture_output=True)


def ready(gw: RunningGateway) -> tuple[int, dict[str, bool]]:
    response = httpx.get(f"{gw.url}/readyz", timeout=5)
    checks: dict[str, bool] = response.json()["checks"]
    return response.status_code, checks


def test_fail_modes_readiness_and_budgets_after_redis_restarts_empty(
    sim: Sim, gateway_factory: Callable[..., RunningGateway], own_redis: RedisServer
) -> None:
    gw = gateway_factory(json.dumps({
        "store": {"url": "{db}"},
        "redis": {"url": own_redis.url},
        "auth": {"refresh_seconds": 0.2},
        "metering": {"ledger": {"flush_seconds": 0.2}},
        "deployments": [{"name": "sim", "provider": "openai_compatible", "model": "up-outage",
                         "api_base": f"{sim.url}/v1", "retries": {"attempts": 0},
                         "pricing": {"input": 0, "output": 1000}}],
        "models": [{"name": "m", "route": "sim"}],
    }))
    opened = gw.create_key(app=gw.ensure_app("acme/core/open"), limits={"rpm": 100})
    closed = gw.create_key(app=gw.ensure_app("acme/core/closed", fail_mode="closed"),
                           limits={"rpm": 100})
    budgeted = gw.create_key(app="acme/core/open", name="budgeted")
    budget = set_budget(gw, "key", "budgeted", 3 * COST)
    assert ready(gw) == (200, {"config": True, "store": True, "redis": True})
    assert [chat(gw, key).status_code for key in (opened, closed, budgeted, budgeted)] \
        == [200] * 4
    wait_for(lambda: budgets(gw)[budget["id"]]["spent"] == pytest.approx(2 * COST))

    own_redis.stop()
    assert chat(gw, opened).status_code == 200  # fail open: served without its limits
    refused = chat(gw, closed)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "store_unavailable"
    assert "fail closed" in refused.json()["error"]["message"]
    assert ready(gw) == (503, {"config": True, "store": True, "redis": False})
    metrics = httpx.get(f"{gw.url}/metrics").text
    assert 'pavedroad_shared_state_unavailable_total{outcome="refused",part="rate_limits"}' \
        in metrics

    restart_empty(own_redis)
    wait_until(lambda: ready(gw)[0] == 200, what="readiness with Redis back")
    # Every account was lost with Redis; the gateway seeds them from the ledger again.
    wait_for(lambda: budgets(gw)[budget["id"]]["spent"] == pytest.approx(2 * COST))
    assert [chat(gw, budgeted).status_code for _ in range(2)] == [200, 402]
    assert chat(gw, closed).status_code == 200
