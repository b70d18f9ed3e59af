"""`pavedroad redteam list` and `export`: what they print is what the packs generate."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pavedroad.cli.main import cli
from pavedroad.evals.redteam.packs import generate_pack


def test_list_prints_every_pack_with_its_counts() -> None:
    result = CliRunner().invoke(cli, ["redteam", "list", "--size", "2"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(": ", 1) for line in result.output.strip().splitlines())
    assert lines["jailbreak"] == "2 cases (jailbreak 2)"
    assert lines["all"].startswith(f"{2 * 7} cases (prompt_injection 2, indirect_injection 2")


def test_export_writes_the_generated_cases_as_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "cases.jsonl"
    result = CliRunner().invoke(cli, ["redteam", "export", "--pack", "system_prompt_leak",
                                      "--size", "4", "--seed", "9", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    cases = generate_pack("system_prompt_leak", size=4, seed=9)
    assert [r["id"] for r in rows] == [c.id for c in cases]
    assert rows[0]["input"] == cases[0].input
    assert rows[0]["metadata"]["canary"] in rows[0]["input"]["messages"][0]["content"]


def test_bad_arguments_are_usage_errors_not_tracebacks() -> None:
    runner = CliRunner()
    unknown = runner.invoke(cli, ["redteam", "export", "--pack", "nope"])
    assert unknown.exit_code == 2 and "Invalid value for '--pack'" in unknown.output
    bad_rate = runner.invoke(cli, ["redteam", "run", "--pack", "all", "--model", "m", "--key", "k",
                                   "--min-block-rate", "jailbreak=lots"])
    assert bad_rate.exit_code == 2 and "is not CATEGORY=RATE" in bad_rate.output
    bad_category = runner.invoke(cli, ["redteam", "run", "--pack", "all", "--model", "m",
                                       "--key", "k", "--min-block-rate", "spam=0.5"])
    assert bad_category.exit_code == 2 and "'spam' is not a category" in bad_category.output
    percent = runner.invoke(cli, ["redteam", "run", "--pack", "all", "--model", "m", "--key",
                                  "k", "--min-block-rate", "jailbreak=90"])
    assert percent.exit_code == 2 and "a share from 0 to 1" in percent.output
    nowhere = runner.invoke(cli, ["redteam", "export", "--pack", "jailbreak", "--size", "1",
                                  "--out", "/nonexistent-dir/pack.jsonl"])
    assert nowhere.exit_code == 1 and "cannot write /nonexistent-dir/pack.jsonl" in nowhere.output
    assert "Traceback" not in bad_rate.output + bad_category.output + percent.output
