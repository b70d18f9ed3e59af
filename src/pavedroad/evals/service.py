"""Evaluation use cases over the store: push datasets, start and resume runs, read, compare
and gate them. The CLI and the admin API both go through here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from pavedroad.core.errors import DatasetNotFound, EvalRunNotFound, InvalidRequest, ServiceUnavailable
from pavedroad.evals.compare import DEFAULT_TOLERANCE, Comparison, compare_runs
from pavedroad.evals.datasets import (
    FORMATS,
    Dataset,
    case_from_row,
    case_to_dict,
    dataset_of,
    load_dataset,
)
from pavedroad.evals.gates import Gate, GateVerdict, check_gate, regression_options
from pavedroad.evals.runner import RunOutcome, SuiteRunner
from pavedroad.evals.scorers.base import build_scorers
from pavedroad.evals.suite import Suite, parse_suite
from pavedroad.evals.summary import RunSummary, summarise
from pavedroad.evals.types import ScorerContext
from pavedroad.plugins.registry import PluginRegistry
from pavedroad.service.org import OrgDirectory
from pavedroad.store.evals import EvalRepository, ResultRow, RunRow


class GateRecorder(Protocol):
    """Where a gate verdict on a prompt version goes: the prompt registry."""

    async def __call__(self, prompt: str, version: int, verdict: GateVerdict, run: RunRow,
                       summary: dict[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class RunView:
    run: RunRow
    results: list[ResultRow]
    summary: RunSummary

    def public(self, *, with_results: bool = True) -> dict[str, Any]:
        out = {**self.run.public(), "summary": self.summary.public()}
        if with_results:
            out["results"] = [r.public() for r in self.results]
        return out


class EvalService:
    def __init__(self, repository: EvalRepository, directory: OrgDirectory, *,
                 registry: PluginRegistry | None = None) -> None:
        self.repository = repository
        self.directory = directory
        self.registry = registry

    # --- datasets -------------------------------------------------------------------

    async def push_dataset(self, dataset: Dataset, *, tenant: str | None = None) -> bool:
        return await self.repository.put_dataset(
            dataset.name, dataset.version, [case_to_dict(c) for c in dataset.cases],
            tenant_id=tenant)

    async def stored_dataset(self, ref: str) -> Dataset:
        """`name` (the newest version) or `name@version`."""
        name, _, version = ref.partition("@")
        row = await self.repository.dataset(name, version or None)
        if row is None:
            raise DatasetNotFound(f"no dataset {ref!r} in the store; push it with "
                                  "`pavedroad eval datasets push FILE`", param="dataset")
        cases = [case_from_row(c, f"dataset {ref}", i) for i, c in enumerate(row.cases, 1)]
        return dataset_of(row.name, cases)

    async def resolve_dataset(self, ref: str, base: Path, *, tenant: str | None) -> Dataset:
        """A suite's `dataset`: a file (pushed on the way, so the run can resume from the
        store) or a stored name."""
        path = base / ref
        if path.suffix.lower() in FORMATS:
            dataset = load_dataset(path)
            await self.push_dataset(dataset, tenant=tenant)
            return dataset
        return await self.stored_dataset(ref)

    # --- runs -----------------------------------------------------------------------

    async def _owner(self, key: str) -> tuple[str | None, str | None]:
        app_id = await self.repository.key_app(key)
        if app_id is None:
            return None, None
        await self.directory.refresh()
        chain = self.directory.chain(app_id)
        return app_id, chain[2].id if chain else None

    def _runner(self, suite: Suite, dataset: Dataset, *, gateway: str, key: str) -> SuiteRunner:
        scorers = build_scorers(suite.scorers, registry=self.registry, where=f"suite {suite.name!r}",
                                context=ScorerContext(gateway_url=gateway, api_key=key))
        return SuiteRunner(suite, dataset, scorers, repository=self.repository,
                           gateway=gateway, key=key)

    async def start_run(self, suite: Suite, base: Path, *, gateway: str, key: str,
                        on_start: Callable[[RunRow], None] | None = None,
                        on_result: Callable[[ResultRow], None] | None = None) -> RunOutcome:
        app_id, tenant = await self._owner(key)
        dataset = await self.resolve_dataset(suite.dataset, base, tenant=tenant)
        runner = self._runner(suite, dataset, gateway=gateway, key=key)  # checks every case
        run = await runner.start(tenant_id=tenant, app_id=app_id)
        if on_start is not None:
            on_start(run)
        return await runner.execute(run, on_result=on_result)

    async def resume_run(self, run_id: str, *, gateway: str, key: str,
                         on_start: Callable[[RunRow], None] | None = None,
                         on_result: Callable[[ResultRow], None] | None = None) -> RunOutcome:
        """Run the cases `run_id` has not finished, with the suite and dataset it began
        with."""
        run = await self.get_run(run_id)
        suite = parse_suite(run.spec, f"run {run_id}")
        dataset = await self.stored_dataset(suite.dataset)
        if on_start is not None:
            on_start(run)
        runner = self._runner(suite, dataset, gateway=gateway, key=key)
        return await runner.execute(run, on_result=on_result)

    async def get_run(self, run_id: str, *, tenant: str | None = None) -> RunRow:
        run = await self.repository.run(run_id, tenant=tenant)
        if run is None:
            raise EvalRunNotFound(f"no evaluation run {run_id!r}", param="run")
        return run

    async def view(self, run_id: str, *, tenant: str | None = None) -> RunView:
        run = await self.get_run(run_id, tenant=tenant)
        results = await self.repository.results(run.id)
        return RunView(run, results, summarise(results))

    async def compare(self, base_id: str, candidate_id: str, *, tenant: str | None = None,
                      scorer: str | None = None, tolerance: float | None = None) -> Comparison:
        base = await self.view(base_id, tenant=tenant)
        candidate = await self.view(candidate_id, tenant=tenant)
        return compare_runs(base.run.id, base.results, candidate.run.id, candidate.results,
                            scorer=scorer,
                            tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance)

    async def gate(self, gate: Gate, run_id: str, *, baseline: str | None = None,
                   record: GateRecorder | None = None) -> tuple[GateVerdict, Comparison | None]:
        """Check the gate; when the run targeted a prompt version, record the verdict
        with the prompt registry (a pass is what allows promoting a high-risk prompt)."""
        view = await self.view(run_id)
        comparison = None
        if baseline is not None:
            scorer, tolerance = regression_options(gate)
            comparison = await self.compare(baseline, run_id, scorer=scorer, tolerance=tolerance)
        verdict = check_gate(gate, view.summary, comparison)
        target = parse_suite(view.run.spec, f"run {run_id}").target.prompt_version
        if record is not None and target is not None:
            await record(target[0], target[1], verdict, view.run,
                         {**verdict.public(), "metrics": view.summary.metrics,
                          "baseline": baseline})
        return verdict, comparison


def http_gate_recorder(gateway: str, admin_key: str) -> GateRecorder:
    """Records through the registry's admin endpoint, `POST /admin/prompts/{id}/versions/
    {version}/gate-results` (owned by the prompt registry, docs/prompts.md)."""

    async def record(prompt: str, version: int, verdict: GateVerdict, run: RunRow,
                     summary: dict[str, Any]) -> None:
        url = (f"{gateway.rstrip('/')}/admin/prompts/{quote(prompt, safe='')}/versions/"
               f"{version}/gate-results")  # the id comes from a suite file: keep it one segment
        body = {"passed": verdict.passed, "gate": verdict.gate, "run_id": run.id,
                "summary": summary}
        headers = {"authorization": f"Bearer {admin_key}"}
        try:
            async with aiohttp.ClientSession(headers=headers) as session, \
                    session.post(url, json=body) as response:
                if response.status >= 400:
                    text = await response.text()
                    raise InvalidRequest(f"the gateway refused the gate result: "
                                         f"{response.status} {text[:300]}")
        except aiohttp.ClientError as exc:
            raise ServiceUnavailable(f"cannot reach the gateway at {gateway} to record the gate "
                                 f"result ({exc.__class__.__name__})") from exc

    return record


def store_gate_recorder(record_gate_result: Callable[..., Awaitable[Any]]) -> GateRecorder:
    """Records through the registry's use case on the store (`PromptAdmin`), as the other
    CLI commands that work on the store do."""

    async def record(prompt: str, version: int, verdict: GateVerdict, run: RunRow,
                     summary: dict[str, Any]) -> None:
        await record_gate_result(prompt, version, passed=verdict.passed, gate=verdict.gate,
                                 run_id=run.id, summary=summary, app=run.app_id, actor="cli")

    return record
