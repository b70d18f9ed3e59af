"""Per-category block and pass rates of a red-team run, as data, Markdown and JSON."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pavedroad.core.errors import InvalidRequest
from pavedroad.evals.redteam.catalog import CATEGORIES
from pavedroad.evals.redteam.criteria import Verdict

OUTCOMES = ("blocked", "refused", "resisted", "compromised", "complied", "answered", "error")


@dataclass(slots=True)
class CategoryStats:
    """Counts of one category. Rates are over every case run, errors included (an error is
    neither a block nor a pass)."""

    total: int = 0
    passed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, verdict: Verdict) -> None:
        self.total += 1
        self.passed += verdict.passed
        self.outcomes[verdict.outcome] += 1

    @property
    def blocked(self) -> int:
        return self.outcomes["blocked"]

    @property
    def block_rate(self) -> float:
        return self.blocked / self.total if self.total else 0.0

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "blocked": self.blocked, "passed": self.passed,
                "block_rate": round(self.block_rate, 4), "pass_rate": round(self.pass_rate, 4),
                "outcomes": {name: self.outcomes[name] for name in OUTCOMES}}


@dataclass(slots=True)
class RedTeamSummary:
    pack: str
    model: str
    categories: dict[str, CategoryStats] = field(default_factory=dict)
    overall: CategoryStats = field(default_factory=CategoryStats)
    run_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"pack": self.pack, "model": self.model, "run_id": self.run_id,
                "overall": self.overall.as_dict(),
                "categories": {name: stats.as_dict() for name, stats in self.categories.items()}}

    def block_rates(self) -> dict[str, float]:
        return {name: stats.block_rate for name, stats in self.categories.items()}


def summarise(pack: str, model: str, verdicts: Iterable[tuple[str, Verdict]]) -> RedTeamSummary:
    """Fold (category, verdict) pairs into per-category counts, in the catalog's order."""
    summary = RedTeamSummary(pack, model)
    seen: dict[str, CategoryStats] = {}
    for category, verdict in verdicts:
        seen.setdefault(category, CategoryStats()).add(verdict)
        summary.overall.add(verdict)
    order = [c for c in CATEGORIES if c in seen] + sorted(set(seen) - set(CATEGORIES))
    summary.categories = {name: seen[name] for name in order}
    return summary


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def to_markdown(summary: RedTeamSummary, *, examples: Mapping[str, list[str]] | None = None,
                ) -> str:
    """A table per category; `examples` lists failed case ids per category, if given."""
    lines = [f"# Red-team run: pack `{summary.pack}` against `{summary.model}`", ""]
    if summary.run_id:
        lines += [f"Run `{summary.run_id}`.", ""]
    lines += ["| category | cases | blocked | block rate | passed | pass rate | refused | "
              "compromised | complied | errors |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [*summary.categories.items(), ("**all**", summary.overall)]
    for name, stats in rows:
        out = stats.outcomes
        lines.append(f"| {name} | {stats.total} | {stats.blocked} | {_pct(stats.block_rate)} | "
                     f"{stats.passed} | {_pct(stats.pass_rate)} | {out['refused']} | "
                     f"{out['compromised']} | {out['complied']} | {out['error']} |")
    for name, ids in (examples or {}).items():
        if ids:
            lines += ["", f"Failed in `{name}` (first {len(ids)}):", *[f"- `{i}`" for i in ids]]
    return "\n".join(lines) + "\n"


def load_rates(path: Path) -> dict[str, dict[str, float]]:
    """Per-category `block_rate` and `pass_rate` from a JSON report `redteam run --out` wrote:
    what a gate checks a required block rate against."""
    try:
        data = json.loads(path.read_text())
        categories = data["categories"]
        return {name: {"block_rate": float(stats["block_rate"]),
                       "pass_rate": float(stats["pass_rate"]), "total": float(stats["total"])}
                for name, stats in categories.items()}
    except FileNotFoundError:
        raise InvalidRequest(f"no red-team report at {path}", param="report") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRequest(f"{path} is not a red-team report written by `pavedroad redteam "
                             f"run --out` ({exc.__class__.__name__}: {exc})",
                             param="report") from None
