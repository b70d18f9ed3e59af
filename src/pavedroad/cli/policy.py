"""`pavedroad policy …`: validate policy files, run policy unit tests, show a decision."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from jsonschema import Draft202012Validator

from pavedroad.cli.common import config_option, fail, settings_from
from pavedroad.plugins.registry import PluginRegistry, load_registry
from pavedroad.policy.engine import PolicyEngine, complete_input
from pavedroad.policy.model import DEFAULT_POLICY, PolicyError
from pavedroad.policy.testing import run_suite


@click.group()
def policy() -> None:
    """Policy-as-code: check policy files, run their unit tests, explain a decision."""


def _policy_path(config_path: Path | None, path: Path | None) -> Path:
    if path is not None:
        return path
    return settings_from(config_path).policy.path or DEFAULT_POLICY


@policy.command("check")
@config_option
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
def policy_check(config_path: Path | None, path: Path | None) -> None:
    """Validate PATH (default: the configured policy): fields, CEL, guardrail names."""
    target = _policy_path(config_path, path)
    try:
        engine = PolicyEngine.load(target)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        fail(f"{len(exc.problems)} problem(s) in {target}")
    registry = load_registry()
    known = set(registry.guardrails)
    missing = sorted(engine.guardrail_names() - known)
    if missing:
        fail(f"{target}: unknown guardrail(s) {', '.join(missing)} "
             f"(installed: {', '.join(sorted(known)) or 'none'})")
    problems = parameter_problems(engine, registry)
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        fail(f"{len(problems)} problem(s) in {target}")
    click.echo(f"ok: {target} version {engine.version}, {len(engine.rules)} rule(s)")


def parameter_problems(engine: PolicyEngine, registry: PluginRegistry) -> list[str]:
    """Each rule's guardrail parameters against the guardrail's manifest (its JSON Schema),
    and whether the guardrail accepts them at all."""
    problems: list[str] = []
    for rule in engine.rules:
        for direction, by_name in rule.guardrails.items():
            for name, spec in by_name.items():
                where = f"rule {rule.id}: guardrails.{direction}.{name}"
                try:
                    guardrail = registry.guardrail_factory(name)(dict(spec.params))
                except (ValueError, TypeError) as exc:
                    problems.append(f"{where}: {exc}")
                    continue
                schema = guardrail.manifest.parameters
                if direction not in guardrail.manifest.directions:
                    problems.append(f"{where}: {name} does not scan {direction}")
                if schema:
                    problems.extend(f"{where}.params: {e.message}" for e in
                                    Draft202012Validator(dict(schema)).iter_errors(
                                        dict(spec.params)))
    return problems


@policy.command("test")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--policy", "policy_path", type=click.Path(exists=True, path_type=Path),
              default=None, help="Policy to test (default: the file's `policy:` entry, "
                                 "else the shipped default policy).")
def policy_test(file: Path, policy_path: Path | None) -> None:
    """Run the policy unit tests in FILE (YAML cases: given input, expect decision fields);
    exits 1 when any case fails."""
    try:
        results = run_suite(file, policy=policy_path)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        fail(f"cannot run {file}", code=2)
    failed = [r for r in results if not r.ok]
    for result in results:
        click.echo(f"{'PASS' if result.ok else 'FAIL'}  {result.name}")
        for failure in result.failures:
            click.echo(f"      {failure}")
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise SystemExit(1)


@policy.command("show")
@config_option
@click.option("--input", "given", default="{}",
              help='Policy input as JSON, e.g. \'{"app": {"risk_class": "high"}}\'.')
@click.option("--runs", type=click.IntRange(min=0), default=0,
              help="Also time this many decisions and print microseconds per decision.")
def policy_show(config_path: Path | None, given: str, runs: int) -> None:
    """Print the decision the configured policy makes for an input, with its explanation."""
    try:
        engine = PolicyEngine.load(_policy_path(config_path, None))
        full = complete_input(json.loads(given))
    except (PolicyError, ValueError) as exc:
        fail(str(exc))
    decision = engine.decide(full)
    click.echo(json.dumps(decision.as_dict(), indent=2))
    if runs:
        started = time.perf_counter()
        for _ in range(runs):
            engine.decide(full)
        per = (time.perf_counter() - started) / runs * 1e6
        click.echo(f"{per:.1f} µs per decision ({runs} runs)")
