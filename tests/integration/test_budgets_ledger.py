"""Budgets start from the ledger: a period counts only its own spend, spend survives a
restart, and the CLI shows and sets the same budgets a running gateway enforces."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from pavedroad.budgets.period import window
from pavedroad.cli.main import cli
from tests.support.budgets import COST, budget_config, budgets, chat, set_budget, wait_for
from tests.support.servers import RunningGateway, Sim

pytestmark = pytest.mark.timeout(60)

GatewayFactory = Callable[..., RunningGateway]
NANOS = 10**9


def _key_id(gw: RunningGateway, name: str) -> str:
    with gw.client() as admin:
        found = [k for k in admin.get("/admin/keys").json()["data"] if k["name"] == name]
    key_id: str = found[0]["id"]
    return key_id


def _add_daily_spend(db: Path, key_id: str, day: dt.date, usd: float) -> None:
    """A rollup row as the ledger writes it (tenant, team and app do not matter here)."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO spend_daily (day, tenant_id, team_id, app_id, key_id, model, deployment,"
            " requests, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens,"
            " cost_nanousd, unpriced_requests) VALUES (?, '', '', '', ?, 'm', 'sim', 1, 0, 0,"
            " 0, 0, ?, 0)", (day.isoformat(), key_id, round(usd * NANOS)))


def test_each_period_counts_only_its_own_spend(
    sim: Sim, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    gw = gateway_factory(budget_config(sim, "up-periods"))
    gw.create_key(name="history")
    key_id = _key_id(gw, "history")
    today = dt.datetime.now(dt.UTC).date()
    spends = {today: 1.0, today - dt.timedelta(days=8): 10.0,
              today - dt.timedelta(days=400): 100.0}
    for day, usd in spends.items():
        _add_daily_spend(tmp_path / "pavedroad.db", key_id, day, usd)
    now = time.time()
    ids = {period: set_budget(gw, "key", "history", 1000, period=period)["id"]
           for period in ("day", "week", "month", "total")}
    live = budgets(gw)
    for period, budget_id in ids.items():
        start = window(period, now).start_day or "0000-00-00"  # type: ignore[arg-type]
        expected = sum(usd for day, usd in spends.items() if day.isoformat() >= start)
        assert live[budget_id]["spent"] == pytest.approx(expected), period
    assert live[ids["total"]]["spent"] == pytest.approx(111.0)
    assert live[ids["day"]]["spent"] == pytest.approx(1.0)


def test_spend_survives_a_restart_and_the_cli_reads_it(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    config = budget_config(sim, "up-restart")
    first = gateway_factory(config)
    first.ensure_app("acme/search/copilot")
    key = first.create_key(app="acme/search/copilot")
    budget = set_budget(first, "user", "acme/alice", 4 * COST)
    assert [chat(first, key, user="alice").status_code for _ in range(2)] == [200, 200]
    first.stop()  # the ledger journal is flushed on the way down

    second = gateway_factory(config)  # the same database
    assert budgets(second)[budget["id"]]["spent"] == pytest.approx(2 * COST)
    codes = [chat(second, key, user="alice").status_code for _ in range(3)]
    assert codes == [200, 200, 402]

    result = CliRunner().invoke(cli, ["budgets", "list", "--json", "--config",
                                      str(second.config_path)])
    assert result.exit_code == 0, result.output
    wait_for(lambda: _cli_spent(second, budget["id"]) == pytest.approx(4 * COST), seconds=10)


def _cli_spent(gw: RunningGateway, budget_id: str) -> float:
    result = CliRunner().invoke(cli, ["budgets", "list", "--json", "--config",
                                      str(gw.config_path)])
    views = {v["id"]: v for v in json.loads(result.output)}
    spent: float = views[budget_id]["spent"]
    return spent


def test_budgets_set_by_the_cli_are_enforced_by_a_running_gateway(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(budget_config(sim, "up-cli"))
    gw.ensure_app("acme/search/copilot")
    key = gw.create_key(app="acme/search/copilot")
    assert chat(gw, key).status_code == 200
    runner = CliRunner()
    config = ["--config", str(gw.config_path)]
    result = runner.invoke(cli, ["budgets", "set", "--scope", "team", "--subject", "acme/search",
                                 "--amount", "0.001", "--period", "month", "--soft", "0.8",
                                 *config])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("created bud_")
    assert "team 'acme/search' has a monthly budget of $0.001" in result.output
    # The gateway picks it up on its next refresh (auth.refresh_seconds).
    wait_for(lambda: chat(gw, key).status_code == 402, seconds=5)
    listed = runner.invoke(cli, ["budgets", "list", *config])
    assert listed.exit_code == 0
    header, row = listed.output.splitlines()[:2]
    assert header.split()[:4] == ["ID", "SCOPE", "SUBJECT", "PERIOD"]
    assert row.split()[1:5] == ["team", "acme/search", "month", "$0.001"]
    assert "80%" in row and "yes" in row
    budget_id = row.split()[0]
    deleted = runner.invoke(cli, ["budgets", "delete", budget_id, *config])
    assert deleted.exit_code == 0 and budget_id in deleted.output
    wait_for(lambda: chat(gw, key).status_code == 200, seconds=5)
    missing = runner.invoke(cli, ["budgets", "delete", budget_id, *config])
    assert missing.exit_code == 1 and "not_found" in missing.output
