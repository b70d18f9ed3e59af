"""Eval runs through a real gateway and simulator: an interrupted run resumes without
redoing a finished case, and the LLM judge aggregates repeated verdicts or times out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from pavedroad.cli.evals import open_evals
from pavedroad.cli.main import cli
from pavedroad.config.loader import load_settings
from pavedroad.evals.runner import ResultWriter
from pavedroad.evals.scorers import build_scorers
from pavedroad.evals.suite import load_suite
from pavedroad.evals.types import Case, Output, ScorerContext
from pavedroad.service.org import OrgDirectory
from pavedroad.store.database import create_engine, migrate
from pavedroad.store.evals import EvalRepository, ResultRow, RunRow
from pavedroad.store.org import OrgRepository
from tests.support.servers import MASTER_KEY, RunningGateway, Sim

pytestmark = pytest.mark.timeout(120)
TOTAL = 40
CONFIG = """
store: {url: "{db}"}
deployments:
  - {name: target, provider: openai_compatible, model: up-resume, api_base: "{sim}/v1"}
  - {name: judge, provider: openai_compatible, model: up-judge, api_base: "{sim}/v1",
     retries: {attempts: 0}}
models:
  - {name: gpt, route: target}
  - {name: judge, route: judge}
"""


@pytest.fixture
def gateway(sim: Sim, gateway_factory: Callable[..., RunningGateway]) -> RunningGateway:
    return gateway_factory(CONFIG.replace("{sim}", sim.url))


def write_suite(folder: Path) -> Path:
    (folder / "many.jsonl").write_text("".join(
        json.dumps({"id": f"c{i:03d}", "input": {"q": f"question {i}"}, "expected": f"{i}"})
        + "\n" for i in range(TOTAL)))
    suite = folder / "suite.yaml"
    suite.write_text("name: many\ndataset: many.jsonl\ntarget: {model: gpt}\n"
                     "scorers: [contains]\nconcurrency: 4\n")
    return suite


def test_an_interrupted_run_resumes_without_redoing_finished_cases(
        gateway: RunningGateway, sim: Sim, tmp_path: Path) -> None:
    key = gateway.create_key(name="evals")
    suite_path = write_suite(tmp_path)
    suite, base = load_suite(suite_path)
    settings = load_settings(gateway.config_path, env={"PAVEDROAD_MASTER_KEY": MASTER_KEY})
    started: list[RunRow] = []

    async def interrupted() -> tuple[str, dict[str, float]]:
        async with open_evals(settings) as service:
            stored: list[ResultRow] = []
            task: asyncio.Task[object]

            def on_result(result: ResultRow) -> None:
                stored.append(result)
                if len(stored) == 10:
                    task.cancel()  # what Ctrl-C does to the CLI's run

            task = asyncio.create_task(service.start_run(
                suite, base, gateway=gateway.url, key=key, on_start=started.append,
                on_result=on_result))
            with pytest.raises(asyncio.CancelledError):
                await task
            run_id = started[0].id
            rows = await service.repository.results(run_id)
            assert (await service.get_run(run_id)).status == "running"
            return run_id, {r.case_id: r.finished_at for r in rows}

    run_id, before = asyncio.run(interrupted())
    assert 10 <= len(before) < TOTAL
    sent_before = sim.stats()["by_model"]["up-resume"]

    async def resumed() -> tuple[int, int, list[ResultRow], str]:
        async with open_evals(settings) as service:
            outcome = await service.resume_run(run_id, gateway=gateway.url, key=key)
            return (outcome.executed, outcome.skipped,
                    await service.repository.results(run_id), outcome.run.status)

    executed, skipped, after, status = asyncio.run(resumed())
    assert (executed, skipped, status) == (TOTAL - len(before), len(before), "finished")
    assert sim.stats()["by_model"]["up-resume"] - sent_before == TOTAL - len(before)
    assert len(after) == TOTAL and all(r.passed for r in after)
    finished_at = {r.case_id: r.finished_at for r in after}
    assert all(finished_at[cid] == stamp for cid, stamp in before.items())  # not redone

    again = CliRunner().invoke(cli, ["eval", "run", str(suite_path), "--config",
                                     str(gateway.config_path), "--key", key, "--gateway",
                                     gateway.url, "--resume", run_id])
    assert again.exit_code == 0, again.output
    assert f"{run_id}: finished, 0 case(s) run, {TOTAL} already finished" in again.output


def judge_score(gateway: RunningGateway, **params: object) -> tuple[float, bool, dict[str, object]]:
    key = gateway.create_key(name="judge")
    [judge] = build_scorers([{"name": "llm_judge", "model": "judge", "rubric": "Is it right?",
                              **params}],
                            context=ScorerContext(gateway_url=gateway.url, api_key=key))
    case = Case("c", {"q": "2+2?"}, expected="4")
    score = asyncio.run(judge.score(case, Output("4")))
    return score.value, score.passed, dict(score.details)


def test_the_judge_averages_repeated_verdicts_with_their_spread(
        gateway: RunningGateway, sim: Sim) -> None:
    sim.fault("up-judge", times=1, content='{"score": 2, "reason": "meh"}')
    sim.fault("up-judge", content='{"score": 4, "reason": "good"}')
    value, passed, details = judge_score(gateway, repeats=3, threshold=0.6)
    assert sorted(details["grades"]) == [2, 4, 4]  # type: ignore[call-overload]
    assert value == pytest.approx((0.25 + 0.75 + 0.75) / 3) and not passed
    assert details["spread"] == pytest.approx(0.2357, abs=1e-4)
    assert sim.stats()["by_model"]["up-judge"] == 3


def test_the_judge_times_out_and_rejects_bad_verdicts(gateway: RunningGateway, sim: Sim) -> None:
    sim.fault("up-judge", latency_ms=3000)
    value, passed, details = judge_score(gateway, repeats=2, timeout_s=0.3)
    assert (value, passed) == (0.0, False)
    assert details["errors"] == ["timed out after 0.3 s"] * 2
    sim.reset()
    sim.fault("up-judge", content='{"score": 9, "reason": "off the scale"}')
    value, passed, details = judge_score(gateway, repeats=1)
    # The gateway enforces the strict json_schema itself: an off-schema verdict never arrives.
    assert not passed and details["errors"] == ["judge call failed: 502 output_invalid"]


def test_the_writer_stores_every_result_across_batches(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    migrate(url)

    async def go() -> tuple[int, int]:
        engine = create_engine(url)
        repository = EvalRepository(engine)
        await repository.create_run(RunRow("run_w", "s", "d", "v", {"model": "m"}, {}, None,
                                           None, "running", 450, 0.0, None))
        seen: list[str] = []
        writer = ResultWriter(repository, "run_w", lambda r: seen.append(r.case_id))
        for i in range(450):  # queued before the writer runs: batches of 200, 200, 50
            writer.put(ResultRow(f"c{i:03d}", {}, [], True, [], None, 0.0))
        await writer.close()
        stored = len(await repository.results("run_w"))
        await engine.dispose()
        return stored, len(set(seen))

    assert asyncio.run(go()) == (450, 450)


def test_admin_reads_of_runs_are_tenant_scoped_and_check_their_parameters(
        gateway: RunningGateway) -> None:
    """`/admin/evals/runs` and `/compare`: a tenant admin reads its tenant's runs only, and
    another tenant's run is `eval_run_not_found`, never a hint that it exists."""
    for path in ("alpha/t/app", "bravo/t/app"):
        gateway.ensure_app(path)
    settings = load_settings(gateway.config_path, env={"PAVEDROAD_MASTER_KEY": MASTER_KEY})

    async def store_runs() -> None:
        engine = create_engine(settings.store.url)
        directory = OrgDirectory(OrgRepository(engine))
        await directory.refresh()
        repository = EvalRepository(engine)
        for run_id, path in (("run_a1", "alpha/t/app"), ("run_a2", "alpha/t/app"),
                             ("run_b1", "bravo/t/app")):
            chain = directory.chain(directory.app(path).id)
            assert chain is not None
            await repository.create_run(RunRow(
                run_id, "s", "d", "v", {"model": "gpt"}, {}, chain[2].id, None,
                "finished", 1, 1.0, 1.0))
            await repository.add_result(run_id, ResultRow(
                "c1", {"text": "x"}, [{"name": "exact", "value": 1.0, "passed": True}], True,
                [], None, 1.0))
        await engine.dispose()

    asyncio.run(store_runs())
    alpha_admin = gateway.create_key(app="alpha/t/app", role="tenant_admin")
    with gateway.client(alpha_admin) as alpha, gateway.client() as master:
        assert {r["id"] for r in master.get("/admin/evals/runs").json()["data"]} == \
            {"run_a1", "run_a2", "run_b1"}
        assert {r["id"] for r in alpha.get("/admin/evals/runs").json()["data"]} == \
            {"run_a1", "run_a2"}
        assert alpha.get("/admin/evals/runs/run_a1").json()["results"][0]["case_id"] == "c1"
        for path, params in [("/admin/evals/runs/run_b1", {}),
                             ("/admin/evals/compare", {"base": "run_a1", "candidate": "run_b1"})]:
            hidden = alpha.get(path, params=params)
            assert hidden.status_code == 404, hidden.text
            assert hidden.json()["error"]["code"] == "eval_run_not_found"
        compared = alpha.get("/admin/evals/compare", params={"base": "run_a1",
                                                            "candidate": "run_a2"})
        assert compared.status_code == 200 and compared.json()["paired_cases"] == 1
        for params, param in [({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
                              ({"limit": "²"}, "limit")]:  # isdigit() took it: a 500
            bad = master.get("/admin/evals/runs", params=params)
            assert (bad.status_code, bad.json()["error"]["param"]) == (400, param)
        missing = master.get("/admin/evals/compare", params={"base": "run_a1"})
        assert (missing.status_code, missing.json()["error"]["param"]) == (400, "candidate")
    caller_key = gateway.create_key(app="alpha/t/app")
    with gateway.client(caller_key) as plain:
        assert plain.get("/admin/evals/runs").status_code == 403
