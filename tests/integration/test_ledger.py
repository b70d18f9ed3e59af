"""The spend ledger through the real gateway: attribution (tags, end users), broken streams,
the admin spend and ledger routes, and `pavedroad spend report` on the same store."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from pavedroad.cli.main import cli
from tests.support.ledger import ledger_rows, wait_for_rows
from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_gateway
from tests.support.services import PostgresServer

pytestmark = pytest.mark.timeout(60)

GatewayFactory = Callable[..., RunningGateway]
PING = [{"role": "user", "content": "ping"}]
TODAY = dt.datetime.now(dt.UTC).date().isoformat()


@pytest.fixture
def gw(sim: Sim, gateway_factory: GatewayFactory) -> RunningGateway:
    return gateway_factory(json.dumps({
        "store": {"url": "{db}"},
        "metering": {"ledger": {"flush_seconds": 0.05}},
        "deployments": [
            {"name": "oa", "provider": "openai_compatible", "model": "gpt-4o-mini",
             "api_base": f"{sim.url}/v1", "retries": {"attempts": 0}},
            {"name": "an", "provider": "anthropic", "model": "claude-3-5-haiku-20241022",
             "api_base": sim.url},
        ],
        "models": [{"name": "m", "route": "oa"}, {"name": "claude", "route": "an"}],
    }))


def post(gw: RunningGateway, key: str, body: dict[str, Any], *, path: str = "/v1/chat/completions",
         headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{gw.url}{path}", json=body, timeout=15,
                      headers={"authorization": f"Bearer {key}", **(headers or {})})


def test_tags_merge_over_key_and_app_defaults_and_end_users_are_recorded(
    gw: RunningGateway,
) -> None:
    gw.ensure_app("acme/search/copilot", tags={"env": "prod", "cost-center": "cc1"})
    key = gw.create_key(app="acme/search/copilot", tags={"owner": "ann"})
    plain = post(gw, key, {"model": "m", "messages": PING, "user": "u-body"})
    tagged = post(gw, key, {"model": "m", "messages": PING, "user": "u-body"},
                  headers={"x-pavedroad-tags": "feature=search, env=staging",
                           "x-pavedroad-user": "u-header"})
    anthropic = post(gw, key, {"model": "claude", "max_tokens": 50, "messages": PING,
                               "metadata": {"user_id": "u-anthropic"}},
                     path="/v1/messages", headers={"x-pavedroad-tags": "feature=chat"})
    ids = [r.headers["x-pavedroad-request-id"] for r in (plain, tagged, anthropic)]
    rows = wait_for_rows(gw.url, ids)
    first, second, third = (rows[i] for i in ids)
    assert first["tags"] == {"env": "prod", "cost-center": "cc1", "owner": "ann"}
    assert first["end_user"] == "u-body"
    assert second["tags"] == {"env": "staging", "cost-center": "cc1", "owner": "ann",
                              "feature": "search"}
    assert second["end_user"] == "u-header"  # the header wins over the body
    assert third["tags"]["feature"] == "chat" and third["end_user"] == "u-anthropic"
    directory = gw.gateway.org_admin.directory
    app = directory.app("acme/search/copilot")
    assert first["app_id"] == app.id and first["team_id"] == app.team_id
    assert first["tenant_id"] == directory.teams[app.team_id].tenant_id
    assert first["key_id"].startswith("key_")


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_a_malformed_tags_header_is_a_400_naming_it(gw: RunningGateway, path: str) -> None:
    body: dict[str, Any] = {"model": "m", "messages": PING, "max_tokens": 10}
    response = post(gw, MASTER_KEY, body, path=path, headers={"x-pavedroad-tags": "feature"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert "x-pavedroad-tags" in error["message"]
    if path.endswith("completions"):
        assert error["code"] == "invalid_request" and error["param"] == "x-pavedroad-tags"


def test_a_stream_broken_midway_is_recorded_with_its_error_and_estimated_cost(
    gw: RunningGateway, sim: Sim,
) -> None:
    sim.fault("gpt-4o-mini", reset_after_chunks=3)
    with httpx.Client(base_url=gw.url, timeout=15,
                      headers={"authorization": f"Bearer {MASTER_KEY}"}) as http, \
            http.stream("POST", "/v1/chat/completions",
                        json={"model": "m", "messages": PING, "stream": True}) as response:
        text = response.read().decode()
        rid = response.headers["x-pavedroad-request-id"]
    assert "[DONE]" not in text
    row = wait_for_rows(gw.url, [rid])[rid]
    assert row["outcome"] == "upstream_stream_broken"
    assert row["usage_source"] == "estimated"  # the usage chunk never came
    assert row["completion_tokens"] > 0  # what was streamed before the break
    assert row["cost_usd"] > 0 and row["stream"] is True


def test_a_request_that_fails_before_answering_costs_nothing(
    gw: RunningGateway, sim: Sim,
) -> None:
    sim.fault("gpt-4o-mini", status=503)
    response = post(gw, MASTER_KEY, {"model": "m", "messages": PING})
    assert response.status_code == 503
    rid = response.headers["x-pavedroad-request-id"]
    row = wait_for_rows(gw.url, [rid])[rid]
    assert row["outcome"] == "upstream_overloaded" and row["cost_usd"] == 0
    assert row["deployment"] is None and row["route"] == "oa:upstream_overloaded"


def spend(gw: RunningGateway, **params: str) -> httpx.Response:
    with gw.client() as http:
        return http.get("/admin/spend", params=params)


def test_spend_report_groups_by_team_and_tag(gw: RunningGateway) -> None:
    gw.ensure_app("acme/search/app")
    gw.ensure_app("acme/ads/app")
    search, ads = gw.create_key(app="acme/search/app"), gw.create_key(app="acme/ads/app")
    ids = [post(gw, search, {"model": "m", "messages": PING},
                headers={"x-pavedroad-tags": "feature=a"}).headers["x-pavedroad-request-id"]
           for _ in range(3)]
    ids += [post(gw, ads, {"model": "m", "messages": PING},
                 headers={"x-pavedroad-tags": "feature=b"}).headers["x-pavedroad-request-id"]
            for _ in range(2)]
    ids.append(post(gw, ads, {"model": "m", "messages": PING}).headers["x-pavedroad-request-id"])
    rows = wait_for_rows(gw.url, ids)
    cost = {i: rows[i]["cost_usd"] for i in ids}

    report = spend(gw, by="team", period="day").json()
    assert report["from"] == report["to"] == TODAY
    teams = {line["group"]: line for line in report["data"]}
    assert teams["acme/search"]["requests"] == 3 and teams["acme/ads"]["requests"] == 3
    assert teams["acme/search"]["cost_usd"] == pytest.approx(sum(cost[i] for i in ids[:3]))
    assert teams["acme/ads"]["cost_usd"] == pytest.approx(sum(cost[i] for i in ids[3:]))
    assert report["total"]["requests"] == 6

    by_tag = spend(gw, by="tag:feature", period="month").json()
    tags = {line["group"]: line["requests"] for line in by_tag["data"]}
    assert tags == {"a": 3, "b": 2, "(untagged)": 1}

    assert spend(gw, by="colour").json()["error"]["param"] == "by"
    assert spend(gw, by="team", period="year").status_code == 400
    assert spend(gw, by="team", **{"from": "yesterday"}).json()["error"]["param"] == "from"
    forbidden = httpx.get(f"{gw.url}/admin/spend", headers={"authorization": f"Bearer {search}"})
    assert forbidden.status_code == 403


def test_ledger_rows_page_in_request_order(gw: RunningGateway) -> None:
    ids = [post(gw, MASTER_KEY, {"model": "m", "messages": PING}).headers[
        "x-pavedroad-request-id"] for _ in range(5)]
    wait_for_rows(gw.url, ids)
    seen: list[str] = []
    after = ""
    with gw.client() as http:
        while True:
            page = http.get("/admin/ledger", params={"limit": 2, "after": after}).json()
            seen += [r["request_id"] for r in page["data"]]
            if not page["data"]:
                break
            after = page["next"]
        assert http.get("/admin/ledger", params={"limit": 0}).status_code == 400
    assert seen == sorted(ids) == sorted(ledger_rows(gw.url))


def test_cli_spend_report_reads_the_same_store(gw: RunningGateway) -> None:
    gw.ensure_app("acme/search/app")
    key = gw.create_key(app="acme/search/app")
    ids = [post(gw, key, {"model": "m", "messages": PING}).headers["x-pavedroad-request-id"]
           for _ in range(2)]
    total = sum(r["cost_usd"] for r in wait_for_rows(gw.url, ids).values())
    runner = CliRunner()
    args = ["spend", "report", "--config", str(gw.config_path), "--by", "team"]
    as_json = runner.invoke(cli, [*args, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    line = next(ln for ln in data["data"] if ln["group"] == "acme/search")
    assert line["requests"] == 2 and line["cost_usd"] == pytest.approx(total)
    as_csv = runner.invoke(cli, [*args, "--format", "csv", "--period", "day"])
    parsed = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert {r["group"]: r["requests"] for r in parsed}["acme/search"] == "2"
    table = runner.invoke(cli, [*args, "--period", "week"])
    assert table.exit_code == 0
    assert "acme/search" in table.output and "total" in table.output
    bad = runner.invoke(cli, [*args, "--by", "colour"])
    assert bad.exit_code != 0 and "by" in bad.output


def test_the_ledger_on_postgresql(sim: Sim, gateway_factory: GatewayFactory,
                                  postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.database(f"ledger_gw_{os.getpid()}_{int(time.time() * 1000)}")
    gw = gateway_factory(json.dumps({
        "store": {"url": url},
        "metering": {"ledger": {"flush_seconds": 0.05, "journal_dir": str(tmp_path / "j")}},
        "deployments": [{"name": "oa", "provider": "openai_compatible", "model": "gpt-4o-mini",
                         "api_base": f"{sim.url}/v1"}],
        "models": [{"name": "m", "route": "oa"}],
    }))
    gw.ensure_app("acme/search/app")
    key = gw.create_key(app="acme/search/app")
    ids = [post(gw, key, {"model": "m", "messages": PING},
                headers={"x-pavedroad-tags": f"feature=f{i % 2}"}).headers[
        "x-pavedroad-request-id"] for i in range(4)]
    with httpx.Client(base_url=gw.url, timeout=15,
                      headers={"authorization": f"Bearer {key}"}) as http, \
            http.stream("POST", "/v1/chat/completions",
                        json={"model": "m", "messages": PING, "stream": True}) as response:
        response.read()
        ids.append(response.headers["x-pavedroad-request-id"])
    rows = wait_for_rows(gw.url, ids)
    assert all(rows[i]["outcome"] == "ok" and rows[i]["cost_usd"] > 0 for i in ids)
    report = spend(gw, by="team", period="day").json()
    assert [(ln["group"], ln["requests"]) for ln in report["data"]] == [("acme/search", 5)]
    assert report["total"]["cost_usd"] == pytest.approx(sum(rows[i]["cost_usd"] for i in ids))
    by_tag = {ln["group"]: ln["requests"] for ln in spend(gw, by="tag:feature").json()["data"]}
    assert by_tag == {"f0": 2, "f1": 2, "(untagged)": 1}


def test_a_clean_stop_flushes_everything_and_removes_the_journal(
    sim: Sim, tmp_path: Path,
) -> None:
    config = json.dumps({
        "store": {"url": "{db}"},
        "metering": {"ledger": {"flush_seconds": 30}},  # only the stop will flush
        "deployments": [{"name": "oa", "provider": "openai_compatible", "model": "gpt-4o-mini",
                         "api_base": f"{sim.url}/v1"}],
        "models": [{"name": "m", "route": "oa"}],
    })
    running = start_gateway(config, tmp_path)
    try:
        ids = [post(running, MASTER_KEY, {"model": "m", "messages": PING}).headers[
            "x-pavedroad-request-id"] for _ in range(3)]
        journal = tmp_path / "journal"
        assert sum(p.stat().st_size for p in journal.glob("*.jsonl")) > 0
    finally:
        running.stop()
    assert list(journal.iterdir()) == []
    with sqlite3.connect(tmp_path / "pavedroad.db") as db:
        stored = {r[0] for r in db.execute("SELECT request_id FROM ledger")}
    assert stored == set(ids)
