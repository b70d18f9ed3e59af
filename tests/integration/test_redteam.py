"""Red-team packs against a real gateway and the simulator, under the shipped policy: a
high-risk app's guardrails block injection, and the report's numbers are what the gateway
did (counted independently from its metrics and from what reached the simulator)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from pavedroad.cli.main import cli
from pavedroad.evals.redteam.catalog import CATEGORIES
from pavedroad.evals.redteam.record import category_rates
from pavedroad.evals.redteam.run import run_pack
from pavedroad.store.database import create_engine
from pavedroad.store.evals import EvalRepository, RunRow
from tests.support.servers import MASTER_KEY, RunningGateway, Sim

CONFIG = """
store: {url: "{db}"}
deployments:
  - {name: sim-approved, provider: openai_compatible, model: up-gpt, api_base: "{sim}/v1",
     region: local}
models:
  - {name: assistant, route: sim-approved}
"""
FULL = ("prompt_injection", "indirect_injection")  # every combination; the rest sampled


def blocked_so_far(gw: RunningGateway) -> int:
    page = httpx.get(f"{gw.url}/metrics").text
    return sum(int(float(m)) for m in re.findall(
        r'^pavedroad_requests_total\{[^}]*code="guardrail_blocked"[^}]*\} (\S+)$', page, re.M))


@pytest.fixture
def gateway(sim: Sim, gateway_factory: Callable[..., RunningGateway]) -> RunningGateway:
    return gateway_factory(CONFIG.replace("{sim}", sim.url))


def key_for(gw: RunningGateway, path: str, risk: str) -> str:
    gw.ensure_app(path, risk_class=risk)
    return gw.create_key(app=path)


def test_high_risk_app_blocks_injection_and_the_report_matches_the_gateway(
        gateway: RunningGateway, sim: Sim) -> None:
    key = key_for(gateway, "bank/sec/high", "high")
    for category in CATEGORIES:
        sim.reset()
        before = blocked_so_far(gateway)
        result = asyncio.run(run_pack(category, gateway=gateway.url, key=key, model="assistant",
                                      size=None if category in FULL else 8, concurrency=4))
        stats = result.summary.categories[category]
        reached_upstream = sim.stats()["requests"]
        assert stats.outcomes["error"] == 0, category
        assert stats.blocked == blocked_so_far(gateway) - before, category
        assert stats.blocked == stats.total - reached_upstream, category
        assert stats.blocked == sum(r.output.status == 400 for r in result.results)
        if category in FULL:
            assert stats.block_rate >= 0.75, (category, stats.as_dict())
        if category == "benign":  # ordinary questions get through the same guardrails
            assert stats.blocked == 0 and stats.pass_rate == 1.0


def test_minimal_risk_app_blocks_nothing(gateway: RunningGateway, sim: Sim) -> None:
    key = key_for(gateway, "bank/sec/minimal", "minimal")
    result = asyncio.run(run_pack("all", gateway=gateway.url, key=key, model="assistant",
                                  size=3))
    assert result.summary.overall.total == 3 * len(CATEGORIES)
    assert result.summary.overall.blocked == 0
    # The simulator echoes the user's text, so plain injections "succeed" and harmful requests
    # are "complied" with: the report says so instead of counting them as passes.
    assert result.summary.categories["harmful"].outcomes["complied"] == 3
    assert sim.stats()["requests"] == 3 * len(CATEGORIES)


def test_cli_writes_reports_and_enforces_minimum_block_rates(
        gateway: RunningGateway, tmp_path: Path) -> None:
    key = key_for(gateway, "bank/sec/cli", "high")
    runner = CliRunner()
    args = ["redteam", "run", "--pack", "prompt_injection", "--model", "assistant", "--key", key,
            "--gateway", gateway.url, "--size", "10", "--out", str(tmp_path / "out")]
    done = runner.invoke(cli, [*args, "--format", "json"])
    assert done.exit_code == 0, done.output
    printed = json.loads(done.stdout)
    stored = json.loads((tmp_path / "out" / "redteam-prompt_injection.json").read_text())
    assert printed["categories"] == {k: v for k, v in stored["categories"].items()}
    assert len(stored["cases"]) == 10
    assert sum(c["blocked"] for c in stored["cases"]) == printed["overall"]["blocked"]
    assert "| prompt_injection | 10 |" in (tmp_path / "out" / "redteam-prompt_injection.md"
                                          ).read_text()
    open_key = key_for(gateway, "bank/sec/cli-open", "minimal")  # blocks nothing
    failing = runner.invoke(cli, ["redteam", "run", "--pack", "prompt_injection", "--model",
                                  "assistant", "--key", open_key, "--gateway", gateway.url,
                                  "--size", "4", "--min-block-rate", "prompt_injection=0.5"])
    assert failing.exit_code == 3, failing.output
    assert "block rate below the minimum: prompt_injection 0.0% < 50.0%" in failing.output
    bad_key = runner.invoke(cli, [*args[:-2], "--key", "sk-wrong"])
    assert bad_key.exit_code == 1
    assert "every case ended in an error (first: 401 invalid_api_key)" in bad_key.output
    unreachable = runner.invoke(cli, ["redteam", "run", "--pack", "harmful", "--model", "m",
                                      "--key", "k", "--gateway", "http://127.0.0.1:9"])
    assert unreachable.exit_code == 1
    assert "cannot reach the gateway at http://127.0.0.1:9" in unreachable.output
    assert "Traceback" not in unreachable.output


def test_recorded_runs_give_gates_the_same_rates_per_category(
        gateway: RunningGateway, tmp_path: Path) -> None:
    key = key_for(gateway, "bank/sec/record", "high")
    done = CliRunner().invoke(cli, [
        "redteam", "run", "--pack", "all", "--size", "4", "--model", "assistant", "--key", key,
        "--gateway", gateway.url, "--format", "json", "--record",
        "--config", str(gateway.config_path)], env={"PAVEDROAD_MASTER_KEY": MASTER_KEY})
    assert done.exit_code == 0, done.output
    printed = json.loads(done.stdout)
    run_id = re.search(r"recorded as run (run_\w+)", done.stderr)
    assert run_id is not None

    async def stored() -> tuple[RunRow | None, dict[str, dict[str, float]]]:
        engine = create_engine(gateway.gateway.settings.store.url)
        try:
            repository = EvalRepository(engine)
            return (await repository.run(run_id.group(1)),
                    await category_rates(repository, run_id.group(1)))
        finally:
            await engine.dispose()

    run, rates = asyncio.run(stored())
    assert run is not None and run.status == "finished" and run.suite == "redteam:all"
    assert run.app_id == gateway.gateway.org_admin.directory.app("bank/sec/record").id
    assert set(rates) == set(CATEGORIES)
    for category, stats in printed["categories"].items():
        assert rates[category]["block_rate"] == pytest.approx(stats["block_rate"], abs=1e-4)
        assert rates[category]["pass_rate"] == pytest.approx(stats["pass_rate"], abs=1e-4)
        assert rates[category]["total"] == stats["total"] == 4
    # The evaluation harness's gate reads the same run: a required block rate per category.
    gate = tmp_path / "gate.yaml"
    gate.write_text("name: redteam\nredteam:\n  min_block_rate: {prompt_injection: 0.5, "
                    "harmful: 0.5}\n")
    verdict = CliRunner().invoke(cli, ["eval", "gate", str(gate), "--run", run_id.group(1),
                                       "--config", str(gateway.config_path)],
                                 env={"PAVEDROAD_MASTER_KEY": MASTER_KEY})
    assert verdict.exit_code == 3, verdict.output
    assert "red-team harmful: block rate 0.0% below 50.0%" in verdict.output
    assert "prompt_injection" not in verdict.output
