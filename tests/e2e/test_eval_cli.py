"""`pavedroad eval …` end to end: one suite run against two prompt versions served by the
simulator through a real gateway. Version 2 drops the hint from the prompt; the simulator
echoes the prompt, so exactly the cases whose answer needs the hint regress. Asserts the
comparison, the gate's exit codes, the verdicts recorded in the prompt registry (promotion
of the failing version is refused for the high-risk app), reports and the admin read API."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from pavedroad.cli.main import cli
from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_gateway

pytestmark = pytest.mark.timeout(120)

APP = "acme/qa/bot"
OTHER = "globex/ops/bot"
CASES = [  # (id, question, hint); the first three questions already contain their hint
    ("easy-1", "Which city is the capital of France, Paris or Lyon?", "Paris"),
    ("easy-2", "Is water wet or dry?", "wet"),
    ("easy-3", "Name the colour of the sky: blue.", "blue"),
    ("hard-1", "What is the capital of Japan?", "Tokyo"),
    ("hard-2", "Which planet is called red?", "Mars"),
    ("hard-3", "What metal is liquid at room temperature?", "mercury"),
]


def prompt(version_text: str) -> dict[str, Any]:
    return {"id": "qa", "app": APP, "model": "gpt",
            "variables": [{"name": "question", "type": "string"},
                          {"name": "hint", "type": "string", "required": False, "default": ""}],
            "messages": [{"role": "user", "content": version_text}]}


@pytest.fixture(scope="module")
def world(sim_session: Sim, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[RunningGateway, Path, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("evals")
    gw = start_gateway(json.dumps({
        "store": {"url": "{db}"},
        # High-risk apps reach only approved models in approved regions (the default policy).
        "deployments": [{"name": "sim", "provider": "openai_compatible", "model": "sim-approved",
                         "region": "local", "api_base": f"{sim_session.url}/v1", "api_key": "sk-up"}],
        "models": [{"name": "gpt", "route": "sim"}],
    }), folder)
    gw.ensure_app(APP, risk_class="high")
    gw.ensure_app(OTHER)
    keys = {"app": gw.create_key(name="qa", app=APP),
            "other_admin": gw.create_key(name="o", app=OTHER, role="tenant_admin"),
            "acme_admin": gw.create_key(name="a", app=APP, role="tenant_admin")}
    with gw.client() as client:
        for text in ("{{ question }} (hint: {{ hint }})", "{{ question }}"):
            client.post("/admin/prompts", json=prompt(text)).raise_for_status()
    (folder / "golden.jsonl").write_text("".join(
        json.dumps({"id": cid, "input": {"question": q, "hint": h}, "expected": h}) + "\n"
        for cid, q, h in CASES))
    for version in (1, 2):
        (folder / f"suite-v{version}.yaml").write_text(
            "name: qa\ndataset: golden.jsonl\n"
            f"target: {{prompt: {{id: qa, version: {version}}}}}\n"
            "scorers:\n  - contains\n  - {name: latency, max_ms: 10000}\nconcurrency: 3\n")
    (folder / "quality.yaml").write_text(
        "name: quality\nmetrics:\n  pass_rate: {min: 0.9}\n  score.contains: {min: 0.9}\n")
    (folder / "release.yaml").write_text(
        "name: release\nmetrics:\n  pass_rate: {min: 0.9}\n"
        "regression:\n  max_regressed_cases: 0\n  fail_on_significant_drop: true\n")
    yield gw, folder, keys
    gw.stop()


def invoke(gw: RunningGateway, *args: str) -> Result:
    words = 2 if args[0] == "datasets" else 1  # the command path, then its options
    return CliRunner().invoke(cli, ["eval", *args[:words], "--config", str(gw.config_path),
                                    *args[words:]], env={"PAVEDROAD_MASTER_KEY": MASTER_KEY})


def run_suite(gw: RunningGateway, folder: Path, key: str, version: int) -> str:
    result = invoke(gw, "run", str(folder / f"suite-v{version}.yaml"), "--key", key,
                    "--gateway", gw.url, "--report", str(folder / f"v{version}.xml"))
    assert result.exit_code == 0, result.output
    found = re.search(r"^(run_\w+): finished, 6 case\(s\) run, 0 already finished$",
                      result.output, re.MULTILINE)
    assert found, result.output
    return found.group(1)


def test_two_prompt_versions_compared_gated_and_promotion_enforced(
        world: tuple[RunningGateway, Path, dict[str, str]]) -> None:
    gw, folder, keys = world
    base = run_suite(gw, folder, keys["app"], 1)
    candidate = run_suite(gw, folder, keys["app"], 2)

    compared = invoke(gw, "compare", base, candidate, "--scorer", "contains", "--json")
    assert compared.exit_code == 0, compared.output
    data = json.loads(compared.output)
    assert sorted(d["case_id"] for d in data["regressed"]) == ["hard-1", "hard-2", "hard-3"]
    assert data["base_mean"] == 1.0 and data["candidate_mean"] == 0.5
    assert data["mean_delta"] == -0.5 and data["ci"]["high"] < 0 and data["improved"] == []

    passed = invoke(gw, "gate", str(folder / "quality.yaml"), "--run", base)
    assert passed.exit_code == 0, passed.output
    assert "gate quality: passed (2 checks)" in passed.output

    failed = invoke(gw, "gate", str(folder / "release.yaml"), "--run", candidate,
                    "--baseline", base)
    assert failed.exit_code == 3, failed.output
    assert "gate release: FAILED" in failed.output
    assert "pass_rate = 0.5, below the minimum 0.9" in failed.output
    assert "3 case(s) regressed (allowed 0): hard-1, hard-2, hard-3" in failed.output
    assert "dropped significantly" in failed.output

    with gw.client() as client:
        refused = client.post("/admin/prompts/qa/labels/production", json={"version": 2})
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "promotion_requires_gate"
        promoted = client.post("/admin/prompts/qa/labels/production", json={"version": 1})
        assert promoted.status_code == 200, promoted.text
        shown = client.get("/admin/prompts/qa", params={"version": 1}).json()
        assert shown["gate_results"][-1]["run_id"] == base
        assert shown["gate_results"][-1]["passed"] is True

    junit = (folder / "v2.xml").read_text()
    assert 'tests="6"' in junit and 'failures="3"' in junit


def test_admin_api_reads_runs_per_tenant(
        world: tuple[RunningGateway, Path, dict[str, str]]) -> None:
    gw, folder, keys = world
    run_id = run_suite(gw, folder, keys["app"], 1)
    with gw.client() as client:
        listed = client.get("/admin/evals/runs", params={"suite": "qa"}).json()["data"]
        assert run_id in [r["id"] for r in listed]
        shown = client.get(f"/admin/evals/runs/{run_id}").json()
        assert len(shown["results"]) == 6 and shown["summary"]["metrics"]["pass_rate"] == 1.0
        same = client.get("/admin/evals/compare", params={"base": run_id,
                                                          "candidate": run_id}).json()
        assert same["regressed"] == [] and same["mean_delta"] == 0.0
        missing = client.get("/admin/evals/compare", params={"base": run_id})
        assert missing.status_code == 400 and missing.json()["error"]["param"] == "candidate"
    with gw.client(keys["acme_admin"]) as acme:
        assert acme.get(f"/admin/evals/runs/{run_id}").status_code == 200
    with gw.client(keys["other_admin"]) as other:
        assert other.get("/admin/evals/runs").json()["data"] == []
        hidden = other.get(f"/admin/evals/runs/{run_id}")
        assert hidden.status_code == 404
        assert hidden.json()["error"]["code"] == "eval_run_not_found"
    denied = httpx.get(f"{gw.url}/admin/evals/runs",
                       headers={"authorization": f"Bearer {keys['app']}"})
    assert denied.status_code == 403


def test_a_gate_verdict_can_be_recorded_through_the_admin_api(
        world: tuple[RunningGateway, Path, dict[str, str]]) -> None:
    gw, folder, keys = world
    run_id = run_suite(gw, folder, keys["app"], 1)
    gated = invoke(gw, "gate", str(folder / "quality.yaml"), "--run", run_id, "--gateway", gw.url,
                   "--admin-key", keys["acme_admin"], "--json")
    assert gated.exit_code == 0, gated.output
    assert json.loads(gated.output)["passed"] is True
    with gw.client() as client:
        results = client.get("/admin/prompts/qa", params={"version": 1}).json()["gate_results"]
    assert results[-1]["run_id"] == run_id and results[-1]["gate"] == "quality"
    refused = invoke(gw, "gate", str(folder / "quality.yaml"), "--run", run_id, "--gateway",
                     gw.url, "--admin-key", keys["other_admin"])
    assert refused.exit_code == 1 and "refused the gate result: 404" in refused.output


def test_bad_inputs_are_clear_errors(world: tuple[RunningGateway, Path, dict[str, str]]) -> None:
    gw, folder, keys = world
    (folder / "bad-suite.yaml").write_text(
        "name: qa\ndataset: golden.jsonl\ntarget: {model: gpt}\nscorers: [{name: similarity, "
        "threshold: 3}]\n")
    bad = invoke(gw, "run", str(folder / "bad-suite.yaml"), "--key", keys["app"],
                 "--gateway", gw.url)
    assert bad.exit_code == 1
    assert "similarity" in bad.output and "eval_config_invalid" in bad.output
    (folder / "bad.csv").write_text("id,expected\nx,1\n")
    pushed = invoke(gw, "datasets", "push", str(folder / "bad.csv"))
    assert pushed.exit_code == 1 and "dataset_invalid" in pushed.output
    assert "row 2" in pushed.output
    down = invoke(gw, "run", str(folder / "suite-v1.yaml"), "--key", keys["app"],
                  "--gateway", "http://127.0.0.1:9")
    assert down.exit_code == 1 and "cannot reach the gateway" in down.output
    assert "resume the run" in down.output and "service_unavailable" in down.output
    unknown = invoke(gw, "show", "run_nope")
    assert unknown.exit_code == 1 and "eval_run_not_found" in unknown.output


def test_datasets_push_and_list(world: tuple[RunningGateway, Path, dict[str, str]]) -> None:
    gw, folder, _ = world
    first = invoke(gw, "datasets", "push", str(folder / "golden.jsonl"), "--name", "gold")
    assert first.exit_code == 0, first.output
    assert re.fullmatch(r"gold@[0-9a-f]{16}: 6 cases \(created\)\n", first.output)
    again = invoke(gw, "datasets", "push", str(folder / "golden.jsonl"), "--name", "gold")
    assert again.output.endswith("(unchanged)\n")
    listed = json.loads(invoke(gw, "datasets", "list", "--json").output)
    assert [d["cases"] for d in listed if d["name"] == "gold"] == [6]
