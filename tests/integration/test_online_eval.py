"""Online evaluation through a running gateway: sampled answers are scored off the request
path, exported on /metrics, stored for GET /admin/evals/online, and a full queue drops
samples without slowing or failing requests."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.servers import RunningGateway, Sim


def config(sim: Sim, **online: object) -> str:
    return json.dumps({
        "store": {"url": "{db}"},
        "online_eval": online,
        "deployments": [{"name": "oa", "provider": "openai_compatible", "model": "up-gpt",
                         "api_base": f"{sim.url}/v1"}],
        "models": [{"name": "m", "route": "oa"}],
    })


def caller(gw: RunningGateway, path: str, *, role: str = "caller") -> str:
    gw.ensure_app(path)
    with gw.client() as client:
        made = client.post("/admin/keys", json={"name": f"{role}-{path}", "app": path,
                                                "role": role})
        made.raise_for_status()
        key: str = made.json()["key"]
        return key


def chat(gw: RunningGateway, key: str, text: str = "hello", **body: object) -> httpx.Response:
    return httpx.post(f"{gw.url}/v1/chat/completions", timeout=15,
                      headers={"authorization": f"Bearer {key}"},
                      json={"model": "m", "messages": [{"role": "user", "content": text}], **body})


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text page (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and ",".join(sorted(match.group(1).split(","))) == want:
            return float(match.group(2))
    return 0.0


def metrics(gw: RunningGateway) -> str:
    return httpx.get(f"{gw.url}/metrics").text


def wait_for(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_every_request_is_scored_at_rate_one(
        sim: Sim, gateway_factory: Callable[..., RunningGateway]) -> None:
    gw = gateway_factory(config(sim, sample_rate=1.0))
    key = caller(gw, "acme/search/bot")
    assert chat(gw, key).status_code == 200
    assert chat(gw, key, "stream it", stream=True).status_code == 200
    assert chat(gw, key, "json please", response_format={"type": "json_object"}).status_code == 200
    app = "acme/search/bot"
    wait_for(lambda: metric(metrics(gw), "pavedroad_online_eval_score_count", app=app,
                            scorer="length") == 3)
    page = metrics(gw)
    assert metric(page, "pavedroad_online_eval_samples_total", app=app, outcome="queued") == 3
    for scorer in ("empty", "refusal", "length"):
        assert metric(page, "pavedroad_online_eval_score_count", app=app, scorer=scorer) == 3
        assert metric(page, "pavedroad_online_eval_passed_total", app=app, scorer=scorer) == 3
    # JSON validity is scored only for the request that asked for JSON (the sim answers JSON).
    assert metric(page, "pavedroad_online_eval_score_count", app=app, scorer="json_valid") == 1
    assert metric(page, "pavedroad_online_eval_passed_total", app=app, scorer="json_valid") == 1

    def stored() -> list[dict[str, object]]:
        with gw.client() as client:
            response = client.get("/admin/evals/online", params={"app": app})
            response.raise_for_status()
            rows: list[dict[str, object]] = response.json()["summary"]
            return rows

    wait_for(lambda: sum(int(str(r["count"])) for r in stored()) == 10)
    summary = {r["scorer"]: r for r in stored()}
    assert summary["empty"]["count"] == 3 and summary["empty"]["pass_rate"] == 1.0
    assert summary["json_valid"]["count"] == 1
    with gw.client() as client:
        later = client.get("/admin/evals/online", params={"from": time.time() + 60})
        rows = client.get("/admin/evals/online", params={"limit": 2, "to": time.time() + 60})
        bad = client.get("/admin/evals/online", params={"from": "yesterday"})
        superscript = client.get("/admin/evals/online", params={"limit": "²"})  # isdigit()
    assert later.json() == {"summary": [], "data": []}
    assert len(rows.json()["data"]) == 2
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "from"
    assert superscript.status_code == 400 and superscript.json()["error"]["param"] == "limit"


def test_rate_zero_scores_nothing_and_per_app_rates_apply(
        sim: Sim, gateway_factory: Callable[..., RunningGateway]) -> None:
    gw = gateway_factory(config(sim, sample_rate=0.0, apps={"acme/t/watched": 1.0}))
    watched, ignored = caller(gw, "acme/t/watched"), caller(gw, "acme/t/ignored")
    for _ in range(4):
        assert chat(gw, ignored).status_code == 200
    assert chat(gw, watched).status_code == 200
    wait_for(lambda: metric(metrics(gw), "pavedroad_online_eval_score_count",
                            app="acme/t/watched", scorer="empty") == 1)
    page = metrics(gw)
    assert "acme/t/ignored" not in page
    assert metric(page, "pavedroad_online_eval_score_count", app="acme/t/watched",
                  scorer="empty") == 1


def test_off_by_default_registers_nothing(
        sim: Sim, gateway_factory: Callable[..., RunningGateway]) -> None:
    gw = gateway_factory(config(sim))
    key = caller(gw, "acme/t/app")
    assert chat(gw, key).status_code == 200
    assert gw.gateway.online_eval is None
    assert "pavedroad_online_eval" not in metrics(gw)
    with gw.client() as client:  # nothing sampled, nothing stored; still readable
        response = client.get("/admin/evals/online")
    assert response.status_code == 200
    assert response.json() == {"summary": [], "data": []}


def test_a_full_queue_drops_samples_without_slowing_requests(
        sim: Sim, gateway_factory: Callable[..., RunningGateway], tmp_path: Path) -> None:
    gw = gateway_factory(config(sim, sample_rate=1.0, queue_size=3, batch_rows=1))
    key = caller(gw, "acme/t/busy")
    assert chat(gw, key, "warm up").status_code == 200
    wait_for(lambda: metric(metrics(gw), "pavedroad_online_eval_score_count", app="acme/t/busy",
                            scorer="empty") == 1)
    # Hold the database's write lock: the worker's first write waits, the queue fills up.
    blocker = sqlite3.connect(tmp_path / "pavedroad.db", timeout=5, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        slowest = 0.0
        for i in range(12):
            started = time.perf_counter()
            assert chat(gw, key, f"request {i}").status_code == 200
            slowest = max(slowest, time.perf_counter() - started)
        page = metrics(gw)
        queued = metric(page, "pavedroad_online_eval_samples_total", app="acme/t/busy",
                        outcome="queued")
        dropped = metric(page, "pavedroad_online_eval_samples_total", app="acme/t/busy",
                         outcome="dropped")
        assert queued + dropped == 13
        assert dropped >= 7  # one in the stuck worker, three waiting, the rest dropped
        assert slowest < 1.0
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with gw.client() as client:  # the stuck batch and the queued ones are written afterwards
        wait_for(lambda: client.get("/admin/evals/online", params={"app": "acme/t/busy"})
                 .json()["summary"][0]["count"] == queued)


@pytest.mark.parametrize("role", ["tenant_admin", "caller"])
def test_admin_read_is_tenant_scoped(sim: Sim, gateway_factory: Callable[..., RunningGateway],
                                     role: str) -> None:
    gw = gateway_factory(config(sim, sample_rate=1.0))
    alpha, bravo = caller(gw, "alpha/t/app"), caller(gw, "bravo/t/app")
    assert chat(gw, alpha).status_code == 200 and chat(gw, bravo).status_code == 200
    with gw.client() as master:  # two apps x three scorers (no JSON asked for)
        wait_for(lambda: len(master.get("/admin/evals/online").json()["summary"]) == 6)
    reader = caller(gw, "alpha/t/app", role=role)
    with gw.client(reader) as client:
        own = client.get("/admin/evals/online")
        other = client.get("/admin/evals/online", params={"app": "bravo/t/app"})
    if role == "caller":
        assert own.status_code == 403
        return
    alpha_id = gw.gateway.org_admin.directory.app("alpha/t/app").id
    assert {r["app_id"] for r in own.json()["summary"]} == {alpha_id}
    assert {r["app_id"] for r in own.json()["data"]} == {alpha_id}
    assert other.status_code == 404
