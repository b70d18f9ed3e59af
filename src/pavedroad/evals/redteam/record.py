"""Red-team runs in the evaluation run store (docs/adr/0017): a run per pack, a result per
case tagged with its category and scored `redteam_blocked` and `redteam_passed`, so a gate
can require a block rate per category like any other metric."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pavedroad.core.ids import new_id
from pavedroad.evals.datasets import case_to_dict, dataset_of
from pavedroad.evals.redteam.attack import DEFAULT_MAX_TOKENS
from pavedroad.evals.redteam.criteria import BlockedScorer, PassedScorer
from pavedroad.evals.redteam.run import RedTeamRun
from pavedroad.evals.runner import score_row
from pavedroad.store.evals import EvalRepository, ResultRow, RunRow

SUITE_PREFIX = "redteam:"  # a red-team run's suite is `redteam:<pack>`
BLOCKED, PASSED = BlockedScorer.name, PassedScorer.name


async def record_run(repository: EvalRepository, run: RedTeamRun, *,
                     tenant_id: str | None = None, app_id: str | None = None,
                     max_tokens: int = DEFAULT_MAX_TOKENS, concurrency: int = 8) -> RunRow:
    """Store the pack as a dataset version, and the run with one result per case."""
    pack, model = run.summary.pack, run.summary.model
    dataset = dataset_of(f"redteam-{pack}", [r.case for r in run.results])
    await repository.put_dataset(dataset.name, dataset.version,
                                 [case_to_dict(c) for c in dataset.cases], tenant_id=tenant_id)
    suite = f"{SUITE_PREFIX}{pack}"
    # A suite spec the harness can read back (and re-run): the stored dataset version pins
    # the exact cases, so the pack's seed and size need no field of their own.
    spec: dict[str, Any] = {"name": suite, "dataset": f"{dataset.name}@{dataset.version}",
                            "target": {"model": model}, "scorers": [BLOCKED, PASSED],
                            "template": None, "request": {"max_tokens": max_tokens},
                            "concurrency": concurrency}
    row = RunRow(new_id("run"), suite, dataset.name, dataset.version, {"model": model},
                 spec, tenant_id, app_id, "running", len(run.results), time.time(), None)
    await repository.create_run(row)
    blocked, passed = BlockedScorer(), PassedScorer()
    for result in run.results:
        case, output = result.case, result.output
        scores = [await blocked.score(case, output), await passed.score(case, output)]
        await repository.add_result(row.id, ResultRow(
            case.id, {"text": output.text, "status": output.status,
                      "error_code": output.error_code, "latency_ms": round(output.latency_ms, 2)},
            [score_row(s) for s in scores], result.verdict.passed, list(case.tags),
            result.category, time.time()))
    await repository.finish_run(row.id)
    return await repository.run(row.id) or row


def rates_of(results: list[ResultRow]) -> dict[str, dict[str, float]]:
    """Per category: cases, block rate (`redteam_blocked` passed) and pass rate."""
    counts: dict[str, list[int]] = {}
    for result in results:
        if result.category is None:
            continue
        blocked = _passed(result.score(BLOCKED))
        tally = counts.setdefault(result.category, [0, 0, 0])
        tally[0] += 1
        tally[1] += blocked
        tally[2] += result.passed
    return {name: {"total": float(total), "block_rate": block / total, "pass_rate": ok / total}
            for name, (total, block, ok) in counts.items()}


def _passed(score: Mapping[str, Any] | None) -> bool:
    return bool(score and score.get("passed"))


async def category_rates(repository: EvalRepository, run_id: str) -> dict[str, dict[str, float]]:
    """What a gate's required red-team block rate is checked against."""
    return rates_of(await repository.results(run_id))
