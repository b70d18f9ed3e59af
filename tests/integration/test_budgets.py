"""Budgets against the simulator with a known price: every scope blocks at its hard limit
with `budget_exceeded` naming the budget, soft thresholds alert once, reservations settle
to the actual cost (streams, failures and abandoned streams included)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.budgets import (
    COST,
    HI,
    PER_TOKEN,
    budget_config,
    budgets,
    chat,
    set_budget,
    wait_for,
)
from tests.support.servers import RunningGateway, Sim

pytestmark = pytest.mark.timeout(60)

GatewayFactory = Callable[..., RunningGateway]


def test_admin_api_sets_changes_lists_and_deletes(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(budget_config(sim, "up-admin"))
    gw.ensure_app("acme/search/copilot")
    with gw.client() as admin:
        created = admin.post("/admin/budgets", json={"scope": "team", "subject": "acme/search",
                                                     "amount": 100, "soft": 0.8})
        assert created.status_code == 201
        body = created.json()
        assert (body["scope"], body["subject"], body["period"], body["amount"], body["hard"]) \
            == ("team", "acme/search", "month", 100.0, True)
        assert body["spent"] == 0 and body["remaining"] == 100 and body["resets_at"].endswith("Z")
        changed = admin.post("/admin/budgets", json={"scope": "team", "subject": "acme/search",
                                                     "amount": 50, "hard": False})
        assert changed.status_code == 200 and changed.json()["id"] == body["id"]
        assert changed.json()["amount"] == 50 and changed.json()["hard"] is False
        daily = admin.post("/admin/budgets", json={"scope": "team", "subject": "acme/search",
                                                   "amount": 5, "period": "daily"})
        assert daily.status_code == 201 and daily.json()["period"] == "day"
        listed = admin.get("/admin/budgets").json()["data"]
        assert sorted(b["period"] for b in listed) == ["day", "month"]
        bad = {
            "scope": admin.post("/admin/budgets", json={"scope": "org", "subject": "x",
                                                        "amount": 1}),
            "period": admin.post("/admin/budgets", json={"scope": "team", "amount": 1,
                                                         "subject": "acme/search",
                                                         "period": "quarter"}),
            "soft": admin.post("/admin/budgets", json={"scope": "team", "amount": 1,
                                                       "subject": "acme/search", "soft": 1.5}),
            "subject": admin.post("/admin/budgets", json={"scope": "user", "subject": "alice",
                                                          "amount": 1}),
        }
        for param, response in bad.items():
            assert response.status_code == 400 and response.json()["error"]["param"] == param
        ghost = admin.post("/admin/budgets", json={"scope": "team", "subject": "acme/ghost",
                                                   "amount": 1})
        assert ghost.status_code == 404
        assert admin.delete(f"/admin/budgets/{body['id']}").status_code == 200
        assert admin.delete(f"/admin/budgets/{body['id']}").status_code == 404
        assert [b["period"] for b in admin.get("/admin/budgets").json()["data"]] == ["day"]
        user = httpx.post(f"{gw.url}/admin/budgets", json={"scope": "team", "amount": 1,
                                                            "subject": "acme/search"},
                          headers={"authorization": f"Bearer {gw.create_key()}"})
        assert user.status_code == 403


SCOPES = {  # scope -> (subject, the body field that makes a request the subject's)
    "key": ("blocked", {}),
    "app": ("acme/search/copilot", {}),
    "team": ("acme/search", {}),
    "tenant": ("acme", {}),
    "user": ("acme/alice", {"user": "alice"}),
}


@pytest.mark.parametrize("scope", list(SCOPES))
def test_a_hard_budget_blocks_with_budget_exceeded_naming_it(
    scope: str, sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(budget_config(sim, f"up-scope-{scope}"))
    app = gw.ensure_app("acme/search/copilot")
    gw.ensure_app("other/team/app")
    key = gw.create_key(app=app, name="blocked")
    subject, extra = SCOPES[scope]
    budget = set_budget(gw, scope, subject, 2 * COST)
    assert [chat(gw, key, **extra).status_code for _ in range(2)] == [200, 200]
    refused = chat(gw, key, **extra)
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "budget_exceeded" and error["type"] == "insufficient_quota"
    assert error["budget"]["id"] == budget["id"]
    assert (error["budget"]["scope"], error["budget"]["subject"], error["budget"]["period"]) \
        == (scope, subject, "month")
    assert error["budget"]["amount"] == pytest.approx(2 * COST)
    assert error["budget"]["spent"] == pytest.approx(2 * COST)
    assert f"{scope} '{subject}' has a monthly budget" in error["message"]
    assert sim.stats()["by_model"][f"up-scope-{scope}"] == 2
    # Someone outside the subject is still served.
    outsider = gw.create_key(app="other/team/app")
    assert chat(gw, outsider, **extra).status_code == 200
    if scope == "user":
        assert chat(gw, key, user="bob").status_code == 200


def test_soft_threshold_alerts_once_and_no_hard_never_blocks(
    sim: Sim, gateway_factory: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gw = gateway_factory(budget_config(sim, "up-soft"))
    app = gw.ensure_app("acme/search/copilot")
    key = gw.create_key(app=app)
    set_budget(gw, "team", "acme/search", 2 * COST, soft=0.5, hard=False)
    with caplog.at_level(logging.WARNING, logger="pavedroad.budgets"):
        codes = [chat(gw, key).status_code for _ in range(4)]  # twice the budget
        wait_for(lambda: next(iter(budgets(gw).values()))["spent"] >= 4 * COST - 1e-9)
    assert codes == [200] * 4
    alerts = [r for r in caplog.records if "budget alert" in r.getMessage()]
    assert len(alerts) == 1 and "team 'acme/search'" in alerts[0].getMessage()
    with gw.client() as admin:
        metrics = admin.get("/metrics").text
    samples = {(s.name, s.labels.get("scope")): s.value
               for family in text_string_to_metric_families(metrics) for s in family.samples}
    assert samples[("pavedroad_budget_alerts_total", "team")] == 1


def test_the_reservation_is_the_worst_case_and_settles_to_the_actual_cost(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    # Without max_tokens a request reserves `metering.reserve_max_tokens` (20) of output.
    gw = gateway_factory(budget_config(sim, "up-cap", reserve_max_tokens=20))
    key = gw.create_key(name="capped")
    budget = set_budget(gw, "key", "capped", 0.025)
    no_cap = httpx.post(f"{gw.url}/v1/chat/completions", timeout=10,
                        headers={"authorization": f"Bearer {key}"},
                        json={"model": "m", "messages": HI})
    assert no_cap.status_code == 200
    used = no_cap.json()["usage"]["completion_tokens"]
    assert used < 20
    wait_for(lambda: budgets(gw)[budget["id"]]["reserved"] == 0)
    assert budgets(gw)[budget["id"]]["spent"] == pytest.approx(used * PER_TOKEN)
    # Left: 0.025 - used/1000. A request that may cost 20/1000 more no longer fits when
    # fewer than 20 are left, whatever it would really cost.
    expected = 200 if 0.025 - used * PER_TOKEN >= 0.020 - 1e-12 else 402
    second = httpx.post(f"{gw.url}/v1/chat/completions", timeout=10,
                        headers={"authorization": f"Bearer {key}"},
                        json={"model": "m", "messages": HI})
    assert second.status_code == expected
    assert chat(gw, key, max_tokens=1).status_code == 200  # a smaller worst case fits


def test_budgets_hold_for_streams_priced_from_their_usage(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(budget_config(sim, "up-stream"))
    key = gw.create_key(name="streamer")
    budget = set_budget(gw, "key", "streamer", 2 * COST)
    for _ in range(2):
        with httpx.stream("POST", f"{gw.url}/v1/chat/completions", timeout=10,
                          headers={"authorization": f"Bearer {key}"},
                          json={"model": "m", "messages": HI, "max_tokens": 5,
                                "stream": True}) as response:
            assert response.status_code == 200
            assert "data: [DONE]" in list(response.iter_lines())
    refused = chat(gw, key, stream=True)
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "budget_exceeded"
    wait_for(lambda: budgets(gw)[budget["id"]]["reserved"] == 0)
    assert budgets(gw)[budget["id"]]["spent"] == pytest.approx(2 * COST)


def test_failed_and_abandoned_requests_release_what_they_reserved(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(budget_config(sim, "up-release"))
    key = gw.create_key(name="unlucky")
    budget = set_budget(gw, "key", "unlucky", 1.0)
    sim.fault("up-release", status=500, times=1)
    assert chat(gw, key).status_code == 502
    wait_for(lambda: budgets(gw)[budget["id"]]["reserved"] == 0)
    assert budgets(gw)[budget["id"]]["spent"] == 0  # nothing was billed
    sim.fault("up-release", chunk_delay_ms=200)
    with httpx.stream("POST", f"{gw.url}/v1/chat/completions", timeout=10,
                      headers={"authorization": f"Bearer {key}"},
                      json={"model": "m", "messages": HI, "max_tokens": 5,
                            "stream": True}) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        assert budgets(gw)[budget["id"]]["reserved"] == pytest.approx(COST)
        time.sleep(0.5)  # a few words go out before the client leaves
    # The client left mid-stream: the reservation settles to what the meter says was used
    # (estimated from the words sent, as the upstream's usage never came).
    wait_for(lambda: budgets(gw)[budget["id"]]["reserved"] == 0)
    assert budgets(gw)[budget["id"]]["spent"] > 0


def test_sdks_get_a_402_they_do_not_retry(sim: Sim, gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory(budget_config(sim, "up-sdk"))
    key = gw.create_key(name="sdk")
    set_budget(gw, "key", "sdk", 0)
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key)  # default: 2 retries
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="m", messages=HI, max_tokens=5)  # type: ignore[arg-type]
    assert caught.value.status_code == 402 and caught.value.code == "budget_exceeded"
    with gw.client() as admin:
        metrics = admin.get("/metrics").text
    refused = sum(s.value for family in text_string_to_metric_families(metrics)
                  for s in family.samples
                  if s.name == "pavedroad_requests_total" and s.labels["code"] == "budget_exceeded")
    assert refused == 1  # a 429 would have been sent three times
