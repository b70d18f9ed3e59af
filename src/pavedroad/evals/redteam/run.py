"""One red-team run: generate a pack, attack the gateway with it, summarise, write reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pavedroad.evals.redteam.attack import CaseResult, attack
from pavedroad.evals.redteam.packs import generate_pack
from pavedroad.evals.redteam.report import RedTeamSummary, summarise, to_markdown

FAILED_EXAMPLES = 5  # failed case ids listed per category in the Markdown report


@dataclass(frozen=True, slots=True)
class RedTeamRun:
    summary: RedTeamSummary
    results: list[CaseResult]

    def failed_examples(self, per_category: int = FAILED_EXAMPLES) -> dict[str, list[str]]:
        examples: dict[str, list[str]] = {}
        for result in self.results:
            ids = examples.setdefault(result.category, [])
            if not result.verdict.passed and len(ids) < per_category:
                ids.append(result.case.id)
        return examples

    def case_rows(self) -> list[dict[str, object]]:
        """One row per case, for the JSON report and for run stores."""
        return [{"id": r.case.id, "category": r.category, "outcome": r.verdict.outcome,
                 "blocked": r.verdict.blocked, "passed": r.verdict.passed,
                 "leaks": list(r.verdict.leaks), "status": r.output.status,
                 "error_code": r.output.error_code, "latency_ms": round(r.output.latency_ms, 1),
                 "tags": list(r.case.tags)} for r in self.results]

    def write(self, directory: Path) -> tuple[Path, Path]:
        """`redteam-<pack>.md` and `redteam-<pack>.json` in `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"redteam-{self.summary.pack}"
        markdown = directory / f"{stem}.md"
        markdown.write_text(to_markdown(self.summary, examples=self.failed_examples()))
        data = {**self.summary.as_dict(), "cases": self.case_rows()}
        report = directory / f"{stem}.json"
        report.write_text(json.dumps(data, indent=2) + "\n")
        return markdown, report


async def run_pack(
    pack: str, *, gateway: str, key: str, model: str, size: int | None = None, seed: int = 0,
    concurrency: int = 8, max_tokens: int = 256,
    on_result: Callable[[CaseResult], None] | None = None,
) -> RedTeamRun:
    cases = generate_pack(pack, size=size, seed=seed)
    results = await attack(cases, gateway=gateway, key=key, model=model, concurrency=concurrency,
                           max_tokens=max_tokens, on_result=on_result)
    summary = summarise(pack, model, [(r.category, r.verdict) for r in results])
    return RedTeamRun(summary, results)
