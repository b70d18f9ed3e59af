"""`pavedroad alerts …`: what the SLO burn-rate and cost-anomaly rules raised."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from pavedroad.cli.common import config_option, run, settings_from
from pavedroad.cli.store import open_store
from pavedroad.store.alerts import AlertRecord, AlertRepository


@click.group()
def alerts() -> None:
    """SLO burn-rate and cost-anomaly alerts (docs/telemetry.md)."""


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@alerts.command("list")
@config_option
@click.option("--state", type=click.Choice(["all", "firing", "resolved"]), default="all",
              show_default=True, help="Which alerts to list.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def alerts_list(config_path: Path | None, state: str, limit: int, as_json: bool) -> None:
    """List alerts, newest first."""
    settings = settings_from(config_path)

    async def go() -> list[AlertRecord]:
        async with open_store(settings) as store:
            return await AlertRepository(store.engine).list(state=state, limit=limit)

    records = run(go())
    if as_json:
        for record in records:
            click.echo(json.dumps(record.as_dict()))
        return
    if not records:
        click.echo(f"no {'' if state == 'all' else state + ' '}alerts")
        return
    click.echo(f"{'STARTED (UTC)':<20} {'RESOLVED':<20} {'SEVERITY':<8} {'KIND':<13} MESSAGE")
    for record in records:
        click.echo(f"{_when(record.started_at):<20} {_when(record.resolved_at):<20} "
                   f"{record.severity:<8} {record.kind:<13} {record.message}")
