"""`pavedroad policy test|check` as an operator runs them: real processes, exit codes."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = str(ROOT / ".venv" / "bin" / "pavedroad")


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=60,
                          check=False)


def test_shipped_policy_tests_pass() -> None:
    result = run("policy", "test", str(ROOT / "examples/policies/default-tests.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed, 0 failed" in result.stdout


def test_a_failing_case_exits_non_zero_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("""
version: "7"
rules:
  - {id: eu-only, when: 'app.risk_class == "high"', regions: [eu-west-1]}
""")
    cases = tmp_path / "cases.yaml"
    cases.write_text("""
policy: policy.yaml
cases:
  - name: right
    given: {app: {risk_class: high}}
    expect: {regions: [eu-west-1], explanation_includes: [eu-only, "version 7"]}
  - name: wrong
    given: {app: {risk_class: high}}
    expect: {regions: [us-east-1]}
""")
    result = run("policy", "test", str(cases))
    assert result.returncode == 1
    assert "PASS  right" in result.stdout and "FAIL  wrong" in result.stdout
    assert "regions: expected ['us-east-1'], got ['eu-west-1']" in result.stdout


def test_policy_check_rejects_bad_cel_and_unknown_guardrails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: "1"\nrules:\n  - {id: x, when: "app.risk_class =="}\n')
    result = run("policy", "check", str(bad), cwd=tmp_path)
    assert result.returncode == 1 and "not valid CEL" in result.stderr
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text('version: "1"\nrules:\n'
                       '  - {id: x, guardrails: {input: {no_such: {action: block}}}}\n')
    result = run("policy", "check", str(unknown), cwd=tmp_path)
    assert result.returncode == 1 and "no_such" in result.stderr
    params = tmp_path / "params.yaml"
    params.write_text('version: "1"\nrules:\n  - {id: x, guardrails: {input: {prompt_injection: '
                      '{action: block, params: {threshold: 7}}}}}\n')
    result = run("policy", "check", str(params), cwd=tmp_path)
    assert result.returncode == 1 and "threshold" in result.stderr
    assert run("policy", "check", cwd=tmp_path).returncode == 0  # the default policy


def test_apps_risk_class_and_safe_mode_from_the_cli(tmp_path: Path) -> None:
    config = tmp_path / "pavedroad.yaml"
    config.write_text(f'store: {{url: "sqlite:///{tmp_path}/p.db"}}\n')
    c = ("--config", str(config))
    assert run("tenants", "create", "acme", *c).returncode == 0
    assert run("teams", "create", "acme/t", *c).returncode == 0
    made = run("apps", "create", "acme/t/bot", "--risk-class", "high", "--data-class",
               "confidential", *c)
    assert made.returncode == 0, made.stderr
    assert "risk class high, data confidential" in made.stdout
    bad = run("apps", "create", "acme/t/bot2", "--risk-class", "extreme", *c)
    assert bad.returncode != 0 and "risk_class must be one of" in bad.stderr
    changed = run("apps", "update", "acme/t/bot", "--data-class", "restricted", *c)
    assert changed.returncode == 0, changed.stderr
    assert "data confidential -> restricted" in changed.stdout
    assert run("safe-mode", "on", "app", "acme/t/bot", "--reason", "incident", *c).returncode == 0
    listed = run("safe-mode", "list", *c).stdout
    assert "app" in listed and "SAFE" in listed and "incident" in listed
    assert run("switch", "off", "global", "all", *c).returncode == 0
    assert "global" in run("switch", "list", *c).stdout
