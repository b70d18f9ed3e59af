"""`pavedroad spend report`: spend from the store's daily rollups, as a table, CSV or JSON.

It reads the store directly, so it works with or without a running gateway; records still
in a gateway's journal (at most `metering.ledger.flush_seconds` old) are not in it yet.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import click

from pavedroad.cli.common import config_option, run, settings_from
from pavedroad.cli.store import open_store
from pavedroad.metering.report import PERIODS, SpendReport, org_names, spend_report
from pavedroad.store.ledger import LedgerRepository

COLUMNS = ("period", "group", "requests", "prompt_tokens", "completion_tokens",
           "cached_tokens", "cost_usd", "unpriced_requests")


@click.group()
def spend() -> None:
    """Spend reports from the ledger."""


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2025-03-14") from None


@spend.command("report")
@config_option
@click.option("--by", default="team", show_default=True,
              help="tenant, team, app, key, model, deployment, user, or tag:<name>.")
@click.option("--period", type=click.Choice(PERIODS), default="month", show_default=True,
              help="Bucket rows by UTC day, ISO week or month.")
@click.option("--from", "first", default=None,
              help="First day (YYYY-MM-DD). Default: the start of the current period.")
@click.option("--to", "last", default=None, help="Last day (YYYY-MM-DD). Default: today (UTC).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="Output format.")
def spend_report_command(config_path: Path | None, by: str, period: str, first: str | None,
                         last: str | None, fmt: str) -> None:
    """Spend grouped BY one dimension per PERIOD, with totals."""
    settings = settings_from(config_path)
    start, end = _date(first), _date(last)

    async def go() -> SpendReport:
        async with open_store(settings) as store:
            names = org_names(store.org.directory, await store.keys.list(include_revoked=True))
            return await spend_report(LedgerRepository(store.engine), by=by, period=period,
                                      first=start, last=end, names=names)

    report = run(go())
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=2))
    elif fmt == "csv":
        click.echo(_csv(report), nl=False)
    else:
        click.echo(_table(report))


def _csv(report: SpendReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in report.lines:
        writer.writerow([line[c] for c in COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def _table(report: SpendReport) -> str:
    header = [c if c != "group" else report.by for c in COLUMNS]
    total = {"period": "total", "group": "", **report.total()}
    rows = [[_cell(line[c]) for c in COLUMNS] for line in [*report.lines, total]]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    numeric = [i >= 2 for i in range(len(COLUMNS))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(cells, widths, numeric, strict=True)).rstrip()

    title = (f"spend by {report.by} per {report.period}, "
             f"{report.first.isoformat()} to {report.last.isoformat()} (USD, UTC days)")
    lines = [title, fmt(header), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in rows[:-1]]
    lines += [fmt(["-" * w for w in widths]), fmt(rows[-1])]
    return "\n".join(lines)
