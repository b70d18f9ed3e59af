"""`pavedroad budgets …`: set, list and delete budgets in the store the config names.

Running gateways pick changes up within `auth.refresh_seconds`. Spend shown here is the
ledger's (settled requests); a gateway's `GET /admin/budgets` adds requests in flight.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from pavedroad.budgets.model import SCOPES, usd
from pavedroad.cli.common import config_option, run, settings_from
from pavedroad.cli.store import Store, open_store
from pavedroad.service.budget_admin import BudgetAdmin, BudgetView
from pavedroad.store.budgets import BudgetRepository, LedgerSpend
from pavedroad.store.keys import KeyRepository

T = TypeVar("T")


def _with_admin(config_path: Path | None, action: Callable[[BudgetAdmin], Awaitable[T]]) -> T:
    settings = settings_from(config_path)

    async def go() -> T:
        async with open_store(settings) as store:
            return await action(_admin(store))

    return run(go())


def _admin(store: Store) -> BudgetAdmin:
    return BudgetAdmin(BudgetRepository(store.engine), store.org.directory,
                       KeyRepository(store.engine), LedgerSpend(store.engine), audit=store.audit)


@click.group()
def budgets() -> None:
    """Budgets in USD per key, app, team, tenant or end user, per period."""


@budgets.command("set")
@config_option
@click.option("--scope", type=click.Choice(SCOPES), required=True, help="What the budget limits.")
@click.option("--subject", required=True,
              help="key: id or name; app: tenant/team/app; team: tenant/team; tenant: name; "
                   "user: tenant/user (ids work too).")
@click.option("--amount", type=click.FloatRange(min=0), required=True, help="USD per period.")
@click.option("--period", default="month", show_default=True,
              type=click.Choice(["day", "week", "month", "total", "daily", "weekly", "monthly"]),
              help="UTC calendar period (weeks start on Monday); total never resets.")
@click.option("--soft", type=click.FloatRange(min=0, max=1, min_open=True), default=None,
              help="Alert when spend crosses this share of the amount, e.g. 0.8.")
@click.option("--hard/--no-hard", default=True, show_default=True,
              help="Refuse requests that could take spend past the amount.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def budgets_set(config_path: Path | None, scope: str, subject: str, amount: float, period: str,
                soft: float | None, hard: bool, as_json: bool) -> None:
    """Set the budget of a subject for a period (create it, or change the existing one)."""
    view, created = _with_admin(config_path, lambda admin: admin.set(
        scope=scope, subject=subject, amount=amount, period=period, soft=soft, hard=hard))
    if as_json:
        click.echo(json.dumps(view.public()))
        return
    budget = view.budget
    click.echo(f"{'created' if created else 'updated'} {budget.id}: {budget.describe()} "
               f"({'hard' if budget.hard else 'no hard limit'}"
               f"{f', alert at {budget.soft:.0%}' if budget.soft else ''}); "
               f"spent {usd(view.spent)} so far")


@budgets.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def budgets_list(config_path: Path | None, as_json: bool) -> None:
    """List budgets with what was spent in the current period and what remains."""
    views = _with_admin(config_path, lambda admin: admin.all())
    if as_json:
        click.echo(json.dumps([view.public() for view in views], indent=2))
        return
    click.echo(_table(views))


@budgets.command("delete")
@config_option
@click.argument("budget_id")
def budgets_delete(config_path: Path | None, budget_id: str) -> None:
    """Delete budget BUDGET_ID (its spend stays in the ledger)."""
    budget = _with_admin(config_path, lambda admin: admin.delete(budget_id))
    click.echo(f"deleted {budget.id} ({budget.scope} {budget.subject}, {budget.period})")


def _table(views: list[BudgetView]) -> str:
    header = ("ID", "SCOPE", "SUBJECT", "PERIOD", "AMOUNT", "SPENT", "REMAINING", "SOFT", "HARD",
              "RESETS")
    rows: list[tuple[Any, ...]] = [header]
    for view in views:
        b = view.budget
        rows.append((b.id, b.scope, b.subject, b.period, usd(b.amount), usd(view.spent),
                     usd(view.remaining),
                     f"{b.soft:.0%}" if b.soft else "-", "yes" if b.hard else "no",
                     view.resets_at or "never"))
    if len(rows) == 1:
        return "no budgets; set one with `pavedroad budgets set`"
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True))
                     .rstrip() for row in rows)
