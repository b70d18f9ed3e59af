"""Datasets, paired comparison statistics, gates and reports, without a gateway."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pavedroad.core.errors import DatasetInvalid, EvalConfigInvalid
from pavedroad.evals.compare import compare_runs, paired_bootstrap, wilcoxon_signed_rank
from pavedroad.evals.datasets import case_from_row, load_dataset
from pavedroad.evals.gates import check_gate, parse_gate
from pavedroad.evals.reports import render
from pavedroad.evals.runner import output_of
from pavedroad.evals.suite import parse_suite
from pavedroad.evals.summary import summarise
from pavedroad.evals.types import Case
from pavedroad.metering.cost import COST_HEADER
from pavedroad.store.evals import ResultRow, RunRow


def result(case_id: str, value: float, *, passed: bool | None = None, latency: float = 10.0,
           category: str | None = None, blocked: bool | None = None) -> ResultRow:
    scores: list[dict[str, Any]] = [{"name": "contains", "value": value,
                                     "passed": value >= 1.0 if passed is None else passed,
                                     "reason": "" if value >= 1 else "missing: x"}]
    if blocked is not None:
        scores.append({"name": "redteam_blocked", "value": float(blocked), "passed": blocked})
    return ResultRow(case_id, {"text": f"answer {case_id}", "status": 200,
                               "latency_ms": latency, "cost_usd": 0.001},
                     scores, all(s["passed"] for s in scores), [], category, 0.0)


RUN = RunRow("run_1", "qa", "golden", "abc", {"model": "gpt"}, {}, None, None, "finished", 3,
             0.0, 1.0)


def test_the_three_formats_give_the_same_cases_and_version(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        '{"id": "q1", "input": {"question": "Capital of France?"}, "expected": "Paris", '
        '"contexts": ["Paris is the capital."], "tags": ["geo"]}\n\n')
    (tmp_path / "a.csv").write_text(
        'id,input.question,expected,contexts,tags\n'
        'q1,Capital of France?,Paris,Paris is the capital.,geo\n')
    (tmp_path / "a.yaml").write_text(
        "name: a\ncases:\n  - id: q1\n    input: {question: 'Capital of France?'}\n"
        "    expected: Paris\n    contexts: [Paris is the capital.]\n    tags: [geo]\n")
    loaded = [load_dataset(tmp_path / f"a.{ext}") for ext in ("jsonl", "csv", "yaml")]
    assert {d.version for d in loaded} == {loaded[0].version}
    assert loaded[0].cases[0].contexts == ("Paris is the capital.",)
    assert loaded[0].name == "a"
    (tmp_path / "b.jsonl").write_text('{"id": "q1", "input": {"question": "x"}, '
                                      '"expected": "Lyon"}\n')
    assert load_dataset(tmp_path / "b.jsonl").version != loaded[0].version


@pytest.mark.parametrize(("text", "message"), [
    ('{"id": "a", "expected": 1}\n', "line 1: give exactly one of"),
    ('{"id": "a", "input": {}}\n{"id": "a", "input": {}}\n', "'a' appears twice"),
    ('{"input": {}, "colour": 1}\n', "unknown field(s) colour"),
    ("not json\n", "line 1: not JSON"),
    ('{"messages": "hi"}\n', "`messages` must be a non-empty list"),
])
def test_bad_datasets_say_where_and_what(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(text)
    with pytest.raises(DatasetInvalid) as caught:
        load_dataset(path)
    assert message in caught.value.message
    assert caught.value.code == "dataset_invalid"


def test_wilcoxon_matches_the_normal_approximation_by_hand() -> None:
    # n=5, all positive: W+ = 15, mean 7.5, variance 13.75, z = 2.0226, p = 0.0431
    assert wilcoxon_signed_rank(np.array([1.0, 2, 3, 4, 5])) == pytest.approx(0.0431, abs=1e-4)
    assert wilcoxon_signed_rank(np.zeros(4)) == 1.0
    assert wilcoxon_signed_rank(np.array([1.0, -1.0, 2.0, -2.0])) == pytest.approx(1.0)


def test_paired_bootstrap_interval() -> None:
    assert paired_bootstrap(np.full(10, 0.5)) == (0.5, 0.5)
    low, high = paired_bootstrap(np.array([0.0, 0.1, -0.1, 0.2, 0.05] * 8))
    assert low < 0.05 < high


def test_compare_lists_regressed_cases_and_a_negative_interval() -> None:
    base = [result(f"c{i}", 1.0) for i in range(20)]
    candidate = [result(f"c{i}", 0.0 if i < 8 else 1.0) for i in range(20)] + [result("new", 1)]
    comparison = compare_runs("run_b", base, "run_c", candidate)
    assert [d.case_id for d in comparison.regressed] == [f"c{i}" for i in range(8)]
    assert comparison.mean_delta == pytest.approx(-0.4)
    assert comparison.ci_high < 0 and comparison.significant_drop
    assert comparison.wilcoxon_p < 0.01
    assert comparison.only_in_candidate == ["new"] and comparison.paired == 20


def test_gate_reasons_for_metrics_regressions_and_block_rates() -> None:
    gate = parse_gate({"name": "release",
                       "metrics": {"pass_rate": {"min": 0.9}, "latency_p95_ms": {"max": 50}},
                       "regression": {"max_regressed_cases": 0},
                       "redteam": {"min_block_rate": {"prompt_injection": 0.9, "pii": 0.5}}})
    base = [result("a", 1.0), result("b", 1.0), result("c", 1.0)]
    candidate = [result("a", 1.0), result("b", 0.0, latency=100), result("c", 1.0),
                 result("r1", 1.0, category="prompt_injection", blocked=True),
                 result("r2", 1.0, category="prompt_injection", blocked=False)]
    summary = summarise(candidate)
    assert summary.block_rates == {"prompt_injection": 0.5}
    verdict = check_gate(gate, summary, compare_runs("b", base, "c", candidate))
    assert not verdict.passed
    text = "\n".join(verdict.reasons)
    assert "pass_rate = 0.6, below the minimum 0.9" in text
    assert "latency_p95_ms" in text and "above the maximum 50" in text
    assert "1 case(s) regressed (allowed 0): b" in text
    assert "prompt_injection: block rate 50.0% below 90.0%" in text
    assert "pii: no blocked/not-blocked cases" in text
    ok = check_gate(parse_gate({"metrics": {"pass_rate": {"min": 0.5}}}), summary)
    assert ok.passed and ok.reasons == []


def test_gate_files_are_checked() -> None:
    with pytest.raises(EvalConfigInvalid, match="unknown metric 'speed'"):
        parse_gate({"metrics": {"speed": {"min": 1}}})
    with pytest.raises(EvalConfigInvalid, match="checks nothing"):
        parse_gate({"name": "empty"})
    with pytest.raises(EvalConfigInvalid, match="pass --baseline"):
        check_gate(parse_gate({"regression": {}}), summarise([result("a", 1.0)]))


def test_suite_bodies_for_models_templates_and_prompt_versions() -> None:
    suite = parse_suite({"name": "s", "dataset": "d.jsonl", "target": {"model": "gpt"},
                         "template": "Q: {question}", "scorers": ["exact"],
                         "request": {"max_tokens": 20}})
    case = load_case({"question": "why?"})
    assert suite.body(case) == {"max_tokens": 20, "model": "gpt",
                                "messages": [{"role": "user", "content": "Q: why?"}]}
    pinned = parse_suite({"name": "s", "dataset": "d", "scorers": ["exact"],
                          "target": {"prompt": {"id": "greeting", "version": 2}}})
    assert pinned.body(case) == {"prompt": {"id": "greeting", "version": 2,
                                            "variables": {"question": "why?"}}}
    assert pinned.target.prompt_version == ("greeting", 2)
    with pytest.raises(EvalConfigInvalid, match=r"`target\.prompt` is"):
        parse_suite({"name": "s", "dataset": "d", "scorers": ["exact"],
                     "target": {"prompt": {"id": "g", "version": 1, "label": "x"}}})
    two = parse_suite({"name": "s", "dataset": "d", "scorers": ["x"], "target": {"model": "m"}})
    with pytest.raises(EvalConfigInvalid, match="no `template`"):
        two.body(load_case({"a": 1, "b": 2}))


@pytest.mark.parametrize("template", ["{q.__class__}", "{q[0]}", "{}", "{q:{w}}", "{q"])
def test_suite_templates_take_plain_names_only(template: str) -> None:
    """`str.format` follows attributes and indexes into the values; a suite refuses such
    fields when it is read (they used to reach the values, or crash with AttributeError)."""
    with pytest.raises(EvalConfigInvalid) as caught:
        parse_suite({"name": "s", "dataset": "d", "scorers": ["exact"],
                     "target": {"model": "m"}, "template": template})
    assert caught.value.param == "template"


def test_a_format_spec_that_does_not_fit_the_value_is_a_config_error() -> None:
    suite = parse_suite({"name": "s", "dataset": "d", "scorers": ["exact"],
                         "target": {"model": "m"}, "template": "{q:d}"})
    with pytest.raises(EvalConfigInvalid, match="case 'c'"):
        suite.body(load_case({"q": ["a list"]}))


def test_yaml_number_keys_are_named_not_a_type_error() -> None:
    with pytest.raises(EvalConfigInvalid, match="unknown key"):
        parse_suite({"name": "s", 1: "x"})
    with pytest.raises(EvalConfigInvalid, match="unknown key"):
        parse_gate({"name": "g", 2: "x"})
    with pytest.raises(DatasetInvalid, match="unknown field"):
        case_from_row({"input": {"q": "x"}, 3: "x"}, "d.yaml case 1", 1)


def load_case(variables: dict[str, Any]) -> Case:
    return Case("c", variables)


def test_reports_in_three_formats() -> None:
    results = [result("a", 1.0), result("b<script>", 0.0)]
    summary = summarise(results)
    markdown = render("markdown", RUN, results, summary)
    assert "| pass_rate | 0.5 |" in markdown and "## Failed cases (1)" in markdown
    page = render("html", RUN, results, summary)
    assert "<script>" not in page and "b&lt;script&gt;" in page
    assert "http://" not in page and "https://" not in page  # self-contained
    junit = ET.fromstring(render("junit", RUN, results, summary).split("\n", 1)[1])
    suite = junit.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    failed = [c for c in suite if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["b<script>"]
    assert json.dumps(summary.public())  # serialisable for the API


def test_junit_survives_control_characters_in_answers() -> None:
    failed = result("c1", 0.0)
    noisy = ResultRow(failed.case_id, {"text": "\x1b[31mred\x1b[0m and a NUL \x00"},
                      failed.scores, False, [], None, 0.0)
    junit = render("junit", RUN, [noisy], summarise([noisy]))
    failure = ET.fromstring(junit.split("\n", 1)[1]).find("testsuite/testcase/failure")
    assert failure is not None and failure.text == "\ufffd[31mred\ufffd[0m and a NUL \ufffd"


@pytest.mark.parametrize(("raw", "headers", "text", "cost"), [
    (b'{"choices": [{"message": {"content": "hi"}}]}', {COST_HEADER: "0.25"}, "hi", 0.25),
    (b'{"choices": [{"message": {"content": "hi"}}]}', {COST_HEADER: "n/a"}, "hi", None),
    (b'{"choices": {"0": "not a list"}}', {}, "", None),
    (b'{"choices": ["not an object"]}', {}, "", None),
    (b'{"choices": [{"message": "not an object"}]}', {}, "", None),
])
def test_odd_gateway_answers_become_outputs_not_exceptions(
        raw: bytes, headers: dict[str, str], text: str, cost: float | None) -> None:
    """What a proxy between the runner and the gateway may do to an answer; each used to
    stop the whole run with a ValueError, KeyError or AttributeError."""
    output = output_of(200, raw, headers, 5.0)
    assert (output.text, output.cost_usd, output.status) == (text, cost, 200)
