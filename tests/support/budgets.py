"""Budget tests' shared pieces: a priced deployment, and the admin API's view of budgets."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.servers import RunningGateway, Sim

HI = [{"role": "user", "content": "hello there, how are you today?"}]
PER_TOKEN = 0.001  # output price $1000 per 1M tokens; input is free
COST = 5 * PER_TOKEN  # max_tokens=5, and the simulator's reply is longer than that


def budget_config(sim: Sim, upstream: str, **metering: Any) -> str:
    """One deployment with a known price, so a request with max_tokens=5 costs exactly COST."""
    return json.dumps({
        "store": {"url": "{db}"},
        "metering": metering,
        "deployments": [{"name": "sim", "provider": "openai_compatible", "model": upstream,
                         "api_base": f"{sim.url}/v1", "retries": {"attempts": 0},
                         "pricing": {"input": 0, "output": 1000}}],
        "models": [{"name": "m", "route": "sim"}],
    })


def chat(gw: RunningGateway, key: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{gw.url}/v1/chat/completions", timeout=10,
                      headers={"authorization": f"Bearer {key}"},
                      json={"model": "m", "messages": HI, "max_tokens": 5, **body})


def set_budget(gw: RunningGateway, scope: str, subject: str, amount: float,
               **extra: Any) -> dict[str, Any]:
    with gw.client() as admin:
        response = admin.post("/admin/budgets", json={"scope": scope, "subject": subject,
                                                      "amount": amount, **extra})
        assert response.status_code in (200, 201), response.text
        data: dict[str, Any] = response.json()
        return data


def budgets(gw: RunningGateway) -> dict[str, dict[str, Any]]:
    """Every budget the gateway enforces, by id, with its live spend."""
    with gw.client() as admin:
        return {b["id"]: b for b in admin.get("/admin/budgets").json()["data"]}


def wait_for(check: Callable[[], bool], *, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
