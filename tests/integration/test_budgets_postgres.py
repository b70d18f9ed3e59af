"""Budgets on PostgreSQL: the same migration (its partial unique index included), the same
enforcement, and spend seeded from the ledger after a restart."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

import pytest

from tests.support.budgets import COST, budgets, chat, set_budget
from tests.support.servers import RunningGateway, Sim
from tests.support.services import PostgresServer

pytestmark = pytest.mark.timeout(90)


def test_budgets_on_postgresql(
    sim: Sim, gateway_factory: Callable[..., RunningGateway], postgres: PostgresServer
) -> None:
    url = postgres.database(f"budgets_{os.getpid()}_{int(time.time() * 1000)}")
    config = json.dumps({
        "store": {"url": url},
        "deployments": [{"name": "sim", "provider": "openai_compatible", "model": "up-pg",
                         "api_base": f"{sim.url}/v1", "pricing": {"input": 0, "output": 1000}}],
        "models": [{"name": "m", "route": "sim"}],
    })
    first = gateway_factory(config)
    key = first.create_key(name="pg")
    budget = set_budget(first, "key", "pg", 3 * COST)
    assert chat(first, key).status_code == 200
    with first.client() as admin:  # deleted, then set again: a new budget, from the ledger
        assert admin.delete(f"/admin/budgets/{budget['id']}").status_code == 200
    again = set_budget(first, "key", "pg", 3 * COST)
    assert again["id"] != budget["id"]
    assert chat(first, key).status_code == 200
    first.stop()

    second = gateway_factory(config)
    assert budgets(second)[again["id"]]["spent"] == pytest.approx(2 * COST)
    assert [chat(second, key).status_code for _ in range(2)] == [200, 402]
