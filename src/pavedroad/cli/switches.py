"""`pavedroad switch …`: the kill switch, applied through the store the config names."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from pavedroad.cli.common import config_option, run, settings_from
from pavedroad.cli.store import when
from pavedroad.config.models import Settings
from pavedroad.routing.switches import SCOPES
from pavedroad.service.switches import SwitchAdmin
from pavedroad.store.database import create_engine, migrate
from pavedroad.store.switches import SwitchRecord, SwitchRepository


@click.group()
def switch() -> None:
    """The kill switch: turn deployments, models or provider kinds off and on at run time."""


async def _repository(settings: Settings) -> SwitchRepository:
    await asyncio.to_thread(migrate, settings.store.url)
    return SwitchRepository(create_engine(settings.store.url))


def _set_switch(config_path: Path | None, scope: str, name: str, *, disabled: bool,
                reason: str) -> None:
    settings = settings_from(config_path)
    known = {
        "deployment": {d.name for d in settings.deployments},
        "model": {m.name for m in settings.models},
        "provider": {d.provider for d in settings.deployments},
    }

    async def go() -> None:
        repository = await _repository(settings)
        try:
            await SwitchAdmin(repository, known=known).set(
                scope, name, disabled=disabled, reason=reason, by="cli")
        finally:
            await repository.dispose()

    run(go())
    click.echo(f"{scope} {name} {'disabled' if disabled else 'enabled'}")


@switch.command("off")
@config_option
@click.argument("scope", type=click.Choice(SCOPES))
@click.argument("name")
@click.option("--reason", default="", help="Why (kept with the switch).")
def switch_off(config_path: Path | None, scope: str, name: str, reason: str) -> None:
    """Disable SCOPE NAME at once; traffic routes around it."""
    _set_switch(config_path, scope, name, disabled=True, reason=reason)


@switch.command("on")
@config_option
@click.argument("scope", type=click.Choice(SCOPES))
@click.argument("name")
def switch_on(config_path: Path | None, scope: str, name: str) -> None:
    """Enable SCOPE NAME again."""
    _set_switch(config_path, scope, name, disabled=False, reason="")


@switch.command("list")
@config_option
def switch_list(config_path: Path | None) -> None:
    """Show every switch that was ever set."""
    settings = settings_from(config_path)

    async def go() -> list[SwitchRecord]:
        repository = await _repository(settings)
        try:
            return await repository.all()
        finally:
            await repository.dispose()

    for r in run(go()):
        state = "OFF" if r.disabled else "on"
        click.echo(f"{r.scope:<11} {r.name:<30} {state:<4} {when(r.updated_at)} "
                   f"{r.updated_by} {r.reason}")
