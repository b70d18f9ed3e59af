"""SLO burn-rate and cost-anomaly alerts, driven by real traffic through the simulator.

Windows are seconds long here (hours in production) so the test sees alerts fire and
resolve; the webhook is a real HTTP server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.receivers import Receiver
from tests.support.servers import MASTER_KEY, RunningGateway, Sim

CONFIG = """
store: {url: "{db}"}
deployments:
  - name: d-alert
    provider: openai_compatible
    model: up-alert
    api_base: {sim}/v1
    pricing: {input: 2000.0, output: 4000.0}
models:
  - name: m
    route: d-alert
telemetry:
  slos:
    - {app: "*", availability: 0.99, latency_ms: 150, latency_target: 0.9}
  alerts:
    webhook_url: {hook}
    evaluate_seconds: 0.2
    min_requests: 5
    burn_windows:
      - {long_seconds: 4, short_seconds: 1.5, factor: 5, severity: page}
    cost_anomaly: {window_seconds: 1, baseline_seconds: 8, factor: 5, min_usd: 0.001}
"""


@pytest.fixture
def hook() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def gw(sim: Sim, hook: Receiver, gateway_factory: Callable[..., RunningGateway]) -> RunningGateway:
    return gateway_factory(CONFIG.replace("{sim}", sim.url).replace("{hook}", hook.url))


def _key(gw: RunningGateway, app: str) -> str:
    gw.ensure_app(f"acme/core/{app}")
    return gw.create_key(app=f"acme/core/{app}")


def _call(gw: RunningGateway, key: str, n: int, *, every: float = 0.0) -> list[int]:
    statuses = []
    with gw.client(key) as client:
        for _ in range(n):
            response = client.post("/v1/chat/completions", json={
                "model": "m", "messages": [{"role": "user", "content": "hello"}]})
            statuses.append(response.status_code)
            time.sleep(every)
    return statuses


def _alerts(gw: RunningGateway, **params: str) -> list[dict[str, Any]]:
    with gw.client() as client:
        response = client.get("/admin/alerts", params=params)
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()["alerts"]
        return alerts


def _slos(gw: RunningGateway) -> list[dict[str, Any]]:
    with gw.client() as client:
        response = client.get("/admin/slos")
        response.raise_for_status()
        assert response.json()["configured"][0]["availability"] == 0.99
        slos: list[dict[str, Any]] = response.json()["slos"]
        return slos


def _overview(gw: RunningGateway) -> str:
    """The dashboard's overview page, as the admin sees it."""
    with httpx.Client(base_url=gw.url, timeout=30) as browser:
        login = browser.post("/ui/login", data={"key": MASTER_KEY, "next": "/ui"})
        assert login.status_code in (200, 303)
        page = browser.get("/ui", follow_redirects=True)
        assert page.status_code == 200
        return page.text


def _wait_alert(gw: RunningGateway, predicate: Callable[[dict[str, Any]], bool],
                timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for alert in _alerts(gw):
            if predicate(alert):
                return alert
        time.sleep(0.1)
    raise AssertionError(f"no such alert in {timeout} s: {_alerts(gw)!r}")


def test_normal_traffic_raises_nothing(gw: RunningGateway, hook: Receiver) -> None:
    key = _key(gw, "calm")
    assert set(_call(gw, key, 30, every=0.1)) == {200}
    time.sleep(0.8)  # a few evaluation rounds
    assert _alerts(gw) == []
    assert hook.bodies == []


def test_error_spike_fires_availability_burn_then_resolves(gw: RunningGateway, sim: Sim,
                                                           hook: Receiver) -> None:
    key = _key(gw, "flaky")
    assert set(_call(gw, key, 10)) == {200}
    sim.fault("up-alert", status=500)
    assert set(_call(gw, key, 10)) <= {502, 503}  # upstream errors, then the open breaker
    alert = _wait_alert(gw, lambda a: a["kind"] == "slo_burn"
                        and a["details"]["objective"] == "availability")
    assert alert["state"] == "firing" and alert["app"] == "flaky" and alert["severity"] == "page"
    assert alert["details"]["burn_rate_short"] >= 5
    assert "availability" in alert["message"]
    sent = hook.wait_for(lambda bodies: any(b["status"] == "firing" for b in bodies))
    assert sent[0]["alert"]["id"] == alert["id"]
    slos = _slos(gw)
    availability = next(s for s in slos if s["app"] == "flaky"
                        and s["objective"] == "availability")
    assert availability["target"] == 0.99 and availability["windows"][0]["burning"] is True
    latency = next(s for s in slos if s["app"] == "flaky" and s["objective"] == "latency")
    assert latency["latency_ms"] == 150 and latency["windows"][0]["burning"] is False
    overview = _overview(gw)
    assert "Service-level objectives" in overview and "flaky" in overview
    assert 'class="bad"' in overview  # the burning objective stands out
    sim.reset()
    # Healthy traffic pushes the bad requests out of the short window: the alert resolves.
    _call(gw, key, 20, every=0.1)
    resolved = _wait_alert(gw, lambda a: a["id"] == alert["id"] and a["state"] == "resolved")
    assert resolved["resolved_at"] > resolved["started_at"]
    hook.wait_for(lambda bodies: any(b["status"] == "resolved" for b in bodies))
    assert _alerts(gw, state="firing") == []


def test_latency_spike_fires_latency_burn_only(gw: RunningGateway, sim: Sim) -> None:
    key = _key(gw, "slow")
    sim.fault("up-alert", latency_ms=250)
    assert set(_call(gw, key, 8)) == {200}
    alert = _wait_alert(gw, lambda a: a["kind"] == "slo_burn")
    assert alert["details"]["objective"] == "latency" and alert["app"] == "slow"
    assert "150 ms" in alert["message"]
    assert not [a for a in _alerts(gw) if a["details"].get("objective") == "availability"]


def test_spend_spike_fires_cost_anomaly(gw: RunningGateway, hook: Receiver) -> None:
    key = _key(gw, "spender")
    _call(gw, key, 12, every=0.25)  # a steady baseline of about four requests a second
    assert [a for a in _alerts(gw) if a["kind"] == "cost_anomaly"] == []
    _call(gw, key, 60)  # then as fast as the gateway answers
    alert = _wait_alert(gw, lambda a: a["kind"] == "cost_anomaly")
    assert alert["app"] == "spender" and alert["severity"] == "ticket"
    assert alert["details"]["window_usd"] > alert["details"]["baseline_usd"] / 8
    assert "baseline" in alert["message"]
    hook.wait_for(lambda bodies: any(b["alert"]["kind"] == "cost_anomaly" for b in bodies))


def test_alerts_endpoint_validates_and_scopes(gw: RunningGateway) -> None:
    with gw.client() as client:
        bad = client.get("/admin/alerts", params={"state": "loud"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "state"
        missing = client.get("/admin/alerts", params={"app": "nope"})
        assert missing.status_code == 404
    caller = _key(gw, "plain")
    response = httpx.get(f"{gw.url}/admin/alerts", headers={"authorization": f"Bearer {caller}"})
    assert response.status_code == 403
