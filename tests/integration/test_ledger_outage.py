"""PostgreSQL stopped mid-load and started again: requests keep being served from memory,
their ledger records wait in the journal, and every one reaches the store afterwards."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.ledger import wait_for_rows
from tests.support.servers import RunningGateway, Sim
from tests.support.services import PostgresServer

pytestmark = pytest.mark.timeout(90)

PING = [{"role": "user", "content": "ping"}]


def metric(gw: RunningGateway, name: str) -> float:
    with gw.client() as http:
        text = http.get("/metrics").text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name)


def test_a_store_outage_buffers_spend_and_loses_none(
    sim: Sim, gateway_factory: Callable[..., RunningGateway], postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    url = postgres.database(f"outage_{os.getpid()}_{int(time.time() * 1000)}")
    gw = gateway_factory(json.dumps({
        "store": {"url": url},
        "metering": {"ledger": {"flush_seconds": 0.05, "journal_dir": str(tmp_path / "j")}},
        "deployments": [{"name": "oa", "provider": "openai_compatible", "model": "gpt-4o-mini",
                         "api_base": f"{sim.url}/v1"}],
        "models": [{"name": "m", "route": "oa"}],
    }))
    key = gw.create_key()
    closed_key = gw.create_key(app=gw.ensure_app("bank/payments/advisor", fail_mode="closed"))
    http = httpx.Client(base_url=gw.url, timeout=15, headers={"authorization": f"Bearer {key}"})

    def closed_status() -> httpx.Response:
        return http.post("/v1/chat/completions", json={"model": "m", "messages": PING},
                         headers={"authorization": f"Bearer {closed_key}"})

    def chat(stream: bool = False) -> str:
        response = http.post("/v1/chat/completions",
                             json={"model": "m", "messages": PING, "stream": stream})
        assert response.status_code == 200, response.text
        return response.headers["x-pavedroad-request-id"]

    assert closed_status().status_code == 200
    before = [chat(i % 3 == 0) for i in range(10)]
    wait_for_rows(gw.url, before)
    postgres.stop()
    try:
        during = [chat(i % 3 == 0) for i in range(30)]  # served: keys are held in memory
        time.sleep(0.5)
        assert metric(gw, "pavedroad_ledger_flush_failures_total") > 0
        assert metric(gw, "pavedroad_ledger_pending_bytes") > 0
        # The fail-closed app is refused once the refresh loop has seen the outage.
        deadline = time.monotonic() + 5
        refused = closed_status()
        while refused.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
            refused = closed_status()
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "store_unavailable"
        assert http.get("/readyz").status_code == 503
        during.append(chat())  # the fail-open app is still served
    finally:
        postgres.start()
    deadline = time.monotonic() + 10
    while closed_status().status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert closed_status().status_code == 200
    rows = wait_for_rows(gw.url, before + during, timeout=30)
    assert all(rows[i]["outcome"] == "ok" for i in before + during)
    assert len({i for i in rows if i in set(during)}) == 31
    http.close()
