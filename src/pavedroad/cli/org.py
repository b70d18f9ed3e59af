"""`pavedroad tenants|teams|apps …`: the organisation that keys, limits and spend roll up to."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from pavedroad.cli.common import config_option, run, settings_from
from pavedroad.cli.store import Store, limit_options, limits_from, open_store, parse_pairs


def _with_limits(fn: Any) -> Any:
    for option in reversed(limit_options):
        fn = option(fn)
    return fn


def _run_store(config_path: Path | None, action: Callable[[Store], Any]) -> Any:
    settings = settings_from(config_path)

    async def go() -> Any:
        async with open_store(settings) as store:
            return await action(store)

    return run(go())


@click.group()
def tenants() -> None:
    """Tenants: the top of the organisation (a business unit or customer)."""


@tenants.command("create")
@config_option
@click.argument("name")
@_with_limits
def tenants_create(config_path: Path | None, name: str, rpm: int | None, tpm: int | None,
                   concurrent: int | None) -> None:
    """Create tenant NAME."""
    record = _run_store(config_path, lambda s: s.org.create_tenant(
        name, limits=limits_from(rpm, tpm, concurrent)))
    click.echo(f"created tenant {record.id} ({record.name})")


@tenants.command("list")
@config_option
def tenants_list(config_path: Path | None) -> None:
    """List tenants."""
    async def action(store: Store) -> list[dict[str, Any]]:
        return [t.public() for t in store.org.directory.tenants.values()]

    click.echo(json.dumps(_run_store(config_path, action), indent=2))


@click.group()
def teams() -> None:
    """Teams inside a tenant."""


@teams.command("create")
@config_option
@click.argument("path")
@_with_limits
def teams_create(config_path: Path | None, path: str, rpm: int | None, tpm: int | None,
                 concurrent: int | None) -> None:
    """Create team PATH, written tenant/team."""
    tenant, _, name = path.partition("/")
    if not name:
        raise click.BadParameter("write the team as tenant/team", param_hint="PATH")
    record = _run_store(config_path, lambda s: s.org.create_team(
        tenant, name, limits=limits_from(rpm, tpm, concurrent)))
    click.echo(f"created team {record.id} ({path})")


@teams.command("list")
@config_option
def teams_list(config_path: Path | None) -> None:
    """List teams."""
    async def action(store: Store) -> list[dict[str, Any]]:
        return [t.public() for t in store.org.directory.teams.values()]

    click.echo(json.dumps(_run_store(config_path, action), indent=2))


def _risk_options(fn: Any) -> Any:
    fn = click.option("--data-class", default=None,
                      help="Data classification (policy.data_classifications; default "
                           "internal).")(fn)
    return click.option("--risk-class", default=None,
                        help="Risk class (policy.risk_classes; default minimal).")(fn)


@click.group()
def apps() -> None:
    """Apps: the AI systems product teams build. Every key belongs to one."""


@apps.command("create")
@config_option
@click.argument("path")
@click.option("--tag", "tags", multiple=True, help="Default cost tag key=value (repeatable).")
@click.option("--fail-mode", type=click.Choice(["open", "closed"]), default="open",
              help="When the store is unreachable: keep serving known keys (open) or refuse.")
@_risk_options
@_with_limits
def apps_create(config_path: Path | None, path: str, tags: tuple[str, ...], fail_mode: str,
                risk_class: str | None, data_class: str | None,
                rpm: int | None, tpm: int | None, concurrent: int | None) -> None:
    """Create app PATH, written tenant/team/app."""
    team, _, name = path.rpartition("/")
    if not team or "/" not in team:
        raise click.BadParameter("write the app as tenant/team/app", param_hint="PATH")
    record = _run_store(config_path, lambda s: s.org.create_app(
        team, name, tags=parse_pairs(tags, "--tag"), fail_mode=fail_mode,
        limits=limits_from(rpm, tpm, concurrent), risk_class=risk_class,
        data_classification=data_class))
    click.echo(f"created app {record.id} ({path}) risk class {record.risk_class}, "
               f"data {record.data_classification}")


@apps.command("update")
@config_option
@click.argument("app")
@_risk_options
def apps_update(config_path: Path | None, app: str, risk_class: str | None,
                data_class: str | None) -> None:
    """Change APP's risk class or data classification (APP: tenant/team/app or an id)."""
    if risk_class is None and data_class is None:
        raise click.UsageError("give --risk-class and/or --data-class")
    before, after = _run_store(config_path, lambda s: s.org.update_app(
        app, risk_class=risk_class, data_classification=data_class))
    click.echo(f"app {after.id}: risk class {before.risk_class} -> {after.risk_class}, "
               f"data {before.data_classification} -> {after.data_classification}")


@apps.command("list")
@config_option
def apps_list(config_path: Path | None) -> None:
    """List apps with their paths."""
    async def action(store: Store) -> list[dict[str, Any]]:
        directory = store.org.directory
        return [{**a.public(), "path": directory.path(a.id)} for a in directory.apps.values()]

    click.echo(json.dumps(_run_store(config_path, action), indent=2))
