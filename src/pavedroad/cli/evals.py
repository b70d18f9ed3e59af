"""`pavedroad eval …`: datasets, suite runs through a gateway, reports, comparisons, gates.

Like `keys` and `prompts`, these commands work on the store the config names; runs send
their requests to a running gateway with a virtual key (docs/evals.md).
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from pavedroad.cli.common import config_option, fail, run, settings_from
from pavedroad.cli.prompts import open_prompts
from pavedroad.cli.store import open_store
from pavedroad.config.models import Settings
from pavedroad.core.errors import PavedroadError
from pavedroad.evals.datasets import load_dataset
from pavedroad.evals.gates import load_gate
from pavedroad.evals.reports import FORMATS, render
from pavedroad.evals.runner import RunOutcome
from pavedroad.evals.service import (
    EvalService,
    GateRecorder,
    http_gate_recorder,
    store_gate_recorder,
)
from pavedroad.evals.suite import load_suite
from pavedroad.plugins.registry import load_registry
from pavedroad.store.evals import EvalRepository, ResultRow, RunRow

T = TypeVar("T")
GATE_FAILED = 3  # distinct from 1 (an error) and 2 (a config problem), for CI scripts

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
gateway_option = click.option(
    "--gateway", default="http://127.0.0.1:8080", show_default=True,
    envvar="PAVEDROAD_GATEWAY_URL", help="Gateway base URL. Env: PAVEDROAD_GATEWAY_URL.")


@asynccontextmanager
async def open_evals(settings: Settings) -> AsyncIterator[EvalService]:
    async with open_store(settings) as store:
        yield EvalService(EvalRepository(store.engine), store.org.directory,
                          registry=load_registry())


def _with(config_path: Path | None, use: Callable[[EvalService], Awaitable[T]]) -> T:
    settings = settings_from(config_path)

    async def go() -> T:
        async with open_evals(settings) as service:
            return await use(service)

    return run(go())


def checked(fn: Callable[[], T]) -> T:
    """Run a synchronous step, reporting our errors (not a stack trace)."""
    try:
        return fn()
    except PavedroadError as exc:
        fail(f"{exc.message} [{exc.code}]")


def write_report(path: Path, text: str) -> None:
    """Write a report where the user asked, or say why not (no stack trace)."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    click.echo(f"wrote {path}", err=True)


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group("eval")
def evals() -> None:
    """Evaluation: datasets, suite runs, reports, comparisons and release gates."""


@evals.group("datasets")
def datasets() -> None:
    """Golden datasets (JSONL, CSV or YAML), versioned by content hash."""


@datasets.command("push")
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="Dataset name. Default: the YAML `name` or the "
                                           "file name without its extension.")
def datasets_push(config_path: Path | None, file: Path, name: str | None) -> None:
    """Store FILE as a dataset version (the same cases again are the same version)."""
    dataset = checked(lambda: load_dataset(file, name=name))
    created = _with(config_path, lambda s: s.push_dataset(dataset))
    click.echo(f"{dataset.name}@{dataset.version}: {len(dataset.cases)} cases "
               f"({'created' if created else 'unchanged'})")


@datasets.command("list")
@config_option
@json_option
def datasets_list(config_path: Path | None, as_json: bool) -> None:
    """Every dataset version in the store, oldest first per name."""
    rows = _with(config_path, lambda s: s.repository.datasets())
    if as_json:
        _echo([r.public() for r in rows])
        return
    for row in rows:
        click.echo(f"{row.name}@{row.version}  {row.case_count} cases")


@evals.command("scorers")
@json_option
def scorers_list(as_json: bool) -> None:
    """The registered scorers, their parameters, and which are cheap (no model call)."""
    manifests = sorted(load_registry().scorers.values(), key=lambda m: m.name)
    if as_json:
        _echo([m.public() for m in manifests])
        return
    for manifest in manifests:
        params = ", ".join(manifest.parameters.get("properties", {}))
        click.echo(f"{manifest.name:18} {'cheap' if manifest.cheap else 'model'}  "
                   f"{manifest.description}" + (f" [{params}]" if params else ""))


def _progress() -> tuple[Callable[[RunRow], None], Callable[[ResultRow], None],
                                         Callable[[], None]]:
    """Callbacks drawing a progress bar on stderr once the run (and its size) is known."""
    state: dict[str, Any] = {}

    def started(row: RunRow) -> None:
        click.echo(f"run {row.id} ({row.case_count} cases)", err=True)
        bar = click.progressbar(length=row.case_count, label=row.suite, file=sys.stderr)
        bar.__enter__()
        state["bar"] = bar

    def advance(_: ResultRow) -> None:
        state["bar"].update(1)

    def close() -> None:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)

    return started, advance, close


def _print_outcome(outcome: RunOutcome, summary: dict[str, float]) -> None:
    click.echo(f"{outcome.run.id}: {outcome.run.status}, {outcome.executed} case(s) run, "
               f"{outcome.skipped} already finished")
    for name in ("pass_rate", "mean_score", "error_rate", "latency_p95_ms", "cost_usd_total"):
        if name in summary:
            click.echo(f"  {name}: {summary[name]:.4g}")


@evals.command("run")
@config_option
@click.argument("suite", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", required=True, envvar="PAVEDROAD_API_KEY",
              help="The virtual key requests use: its budgets and policies apply. "
                   "Env: PAVEDROAD_API_KEY.")
@gateway_option
@click.option("--resume", "resume_id", default=None, metavar="RUN_ID",
              help="Finish an interrupted run: cases it already finished are skipped.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a report here; the format follows the extension "
                   "(.md, .html, .xml for JUnit).")
def run_command(config_path: Path | None, suite: Path, key: str, gateway: str,
                resume_id: str | None, report: Path | None) -> None:
    """Run SUITE (a YAML file) through the gateway and store every case's scores."""
    spec, base = checked(lambda: load_suite(suite))
    started, advance, close = _progress()

    async def go(service: EvalService) -> tuple[RunOutcome, Any]:
        if resume_id is not None:
            existing = await service.get_run(resume_id)
            if existing.suite != spec.name:
                fail(f"run {resume_id} is of suite {existing.suite!r}, not {spec.name!r}")
            outcome = await service.resume_run(resume_id, gateway=gateway, key=key,
                                               on_start=started, on_result=advance)
        else:
            outcome = await service.start_run(spec, base, gateway=gateway, key=key,
                                              on_start=started, on_result=advance)
        return outcome, await service.view(outcome.run.id)

    try:
        outcome, view = _with(config_path, go)
    except KeyboardInterrupt:
        close()
        fail(f"interrupted; finished cases are stored. Resume with `pavedroad eval run {suite} "
             "--resume RUN_ID` (the id printed above)", code=130)
    close()
    _print_outcome(outcome, view.summary.metrics)
    if report is not None:
        fmt = {".html": "html", ".htm": "html", ".xml": "junit"}.get(report.suffix.lower(),
                                                                     "markdown")
        write_report(report, render(fmt, view.run, view.results, view.summary))


@evals.command("runs")
@config_option
@click.option("--suite", default=None, help="Only runs of this suite.")
@json_option
def runs_list(config_path: Path | None, suite: str | None, as_json: bool) -> None:
    """Recent runs, newest first."""
    rows = _with(config_path, lambda s: s.repository.runs(suite=suite))
    if as_json:
        _echo([r.public() for r in rows])
        return
    for row in rows:
        click.echo(f"{row.id}  {row.suite}  {row.dataset}@{row.dataset_version}  "
                   f"{json.dumps(row.target)}  {row.status}")


@evals.command("show")
@config_option
@click.argument("run_id")
@json_option
def show(config_path: Path | None, run_id: str, as_json: bool) -> None:
    """A run's summary (with --json, every case's output and scores)."""
    view = _with(config_path, lambda s: s.view(run_id))
    if as_json:
        _echo(view.public())
        return
    click.echo(render("markdown", view.run, view.results, view.summary), nl=False)


@evals.command("report")
@config_option
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown",
              show_default=True, help="markdown, self-contained html, or junit XML.")
@click.option("--baseline", default=None, metavar="RUN_ID",
              help="Include the comparison with this run (markdown and html).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of standard output.")
def report_command(config_path: Path | None, run_id: str, fmt: str, baseline: str | None,
                   out: Path | None) -> None:
    """Write a report of a run."""

    async def go(service: EvalService) -> str:
        view = await service.view(run_id)
        comparison = await service.compare(baseline, run_id) if baseline else None
        return render(fmt, view.run, view.results, view.summary, comparison)

    text = _with(config_path, go)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_report(out, text)


@evals.command("compare")
@config_option
@click.argument("base")
@click.argument("candidate")
@click.option("--scorer", default=None, help="Compare this scorer's value (default: the mean "
                                             "of each case's scores).")
@click.option("--tolerance", type=click.FloatRange(0, 1), default=None,
              help="A case regressed when its value fell by more than this (default 0.05), "
                   "or it passed before and fails now.")
@json_option
def compare_command(config_path: Path | None, base: str, candidate: str, scorer: str | None,
                    tolerance: float | None, as_json: bool) -> None:
    """Compare CANDIDATE with BASE case by case: mean change, 95% CI, regressed cases."""
    comparison = _with(config_path, lambda s: s.compare(base, candidate, scorer=scorer,
                                                        tolerance=tolerance))
    if as_json:
        _echo(comparison.public())
        return
    click.echo(f"{comparison.metric} over {comparison.paired} paired cases: "
               f"{comparison.base_mean:.4g} -> {comparison.candidate_mean:.4g} "
               f"(change {comparison.mean_delta:+.4g}, 95% CI [{comparison.ci_low:+.4g}, "
               f"{comparison.ci_high:+.4g}], Wilcoxon p = {comparison.wilcoxon_p:.3g})")
    click.echo(f"regressed: {len(comparison.regressed)}, improved: {len(comparison.improved)}")
    for delta in comparison.regressed:
        click.echo(f"  - {delta.case_id}: {delta.base:.3g} -> {delta.candidate:.3g}")
    for name, ids in (("only in base", comparison.only_in_base),
                      ("only in candidate", comparison.only_in_candidate)):
        if ids:
            click.echo(f"{name}: {', '.join(ids)}")


@evals.command("gate")
@config_option
@click.argument("gate_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--run", "run_id", required=True, help="The run to check.")
@click.option("--baseline", default=None, metavar="RUN_ID",
              help="The run regressions are measured against (the gate's `regression`).")
@click.option("--gateway", default=None, envvar="PAVEDROAD_GATEWAY_URL",
              help="With --admin-key: record the verdict on a prompt version through this "
                   "gateway's admin API instead of the store directly.")
@click.option("--admin-key", default=None, envvar="PAVEDROAD_ADMIN_KEY",
              help="Admin key for --gateway. Env: PAVEDROAD_ADMIN_KEY.")
@json_option
def gate_command(config_path: Path | None, gate_file: Path, run_id: str, baseline: str | None,
                 gateway: str | None, admin_key: str | None, as_json: bool) -> None:
    """Check a run against GATE_FILE; exit 3 with the reasons when it fails. A run of a
    prompt version has the verdict recorded in the prompt registry."""
    settings = settings_from(config_path)

    async def go() -> Any:
        gate = load_gate(gate_file)
        async with AsyncExitStack() as stack:
            service = await stack.enter_async_context(open_evals(settings))
            record: GateRecorder
            if gateway and admin_key:
                record = http_gate_recorder(gateway, admin_key)
            else:
                prompts = await stack.enter_async_context(open_prompts(settings))
                record = store_gate_recorder(prompts.record_gate_result)
            return await service.gate(gate, run_id, baseline=baseline, record=record)

    verdict, comparison = run(go())
    if as_json:
        _echo({**verdict.public(),
               "comparison": comparison.public() if comparison is not None else None})
    elif verdict.passed:
        click.echo(f"gate {verdict.gate}: passed ({verdict.checks} checks) for run {run_id}")
    else:
        click.echo(f"gate {verdict.gate}: FAILED for run {run_id}")
        for reason in verdict.reasons:
            click.echo(f"  - {reason}")
    if not verdict.passed:
        sys.exit(GATE_FAILED)
