"""The complaint budgets exist to answer: concurrent requests must never overspend a hard
budget. 200 requests at once against a budget that allows exactly 10."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from tests.support.budgets import COST, HI, budget_config, budgets, set_budget, wait_for
from tests.support.servers import RunningGateway, Sim

pytestmark = pytest.mark.timeout(60)


async def test_200_concurrent_requests_against_a_hard_budget_that_allows_10(
    sim: Sim, gateway_factory: Callable[..., RunningGateway]
) -> None:
    gw = gateway_factory(budget_config(sim, "up-burst"))
    # Every request is still in flight when the others arrive: only reservations, not
    # settled spend, can stop them.
    sim.fault("up-burst", latency_ms=300)
    app = gw.ensure_app("acme/search/copilot")
    keys = [gw.create_key(app=app) for _ in range(4)]
    budget = set_budget(gw, "team", "acme/search", 10 * COST)
    async with httpx.AsyncClient(base_url=gw.url, timeout=30,
                                 limits=httpx.Limits(max_connections=200)) as client:
        responses = await asyncio.gather(*(client.post(
            "/v1/chat/completions", headers={"authorization": f"Bearer {keys[i % 4]}"},
            json={"model": "m", "messages": HI, "max_tokens": 5}) for i in range(200)))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 10
    assert codes.count(402) == 190
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 402} \
        == {"budget_exceeded"}
    assert sim.stats()["by_model"]["up-burst"] == 10  # refused ones never reached upstream
    assert sum(r.json()["usage"]["completion_tokens"] for r in responses
               if r.status_code == 200) == 50
    wait_for(lambda: budgets(gw)[budget["id"]]["reserved"] == 0)
    final = budgets(gw)[budget["id"]]
    assert final["spent"] == pytest.approx(10 * COST, abs=1e-9)
    assert final["spent"] <= final["amount"] and final["remaining"] == pytest.approx(0, abs=1e-9)
