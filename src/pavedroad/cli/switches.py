"""`pavedroad switch …` and `pavedroad safe-mode …`: the kill switch and safe mode, applied
through the store the config names."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import click

from pavedroad.cli.common import config_option, run, settings_from
from pavedroad.cli.store import audit_for, when
from pavedroad.config.models import Settings
from pavedroad.routing.switches import SAFE_PREFIX, SAFE_SCOPES, SCOPES
from pavedroad.service.org import OrgDirectory
from pavedroad.service.switches import SwitchAdmin
from pavedroad.store.database import create_engine, migrate
from pavedroad.store.org import OrgRepository
from pavedroad.store.switches import SwitchRecord, SwitchRepository


@click.group()
def switch() -> None:
    """The kill switch: turn deployments, models, provider kinds, apps or everything
    (`global all`) off and on at run time."""


async def _repository(settings: Settings) -> SwitchRepository:
    await asyncio.to_thread(migrate, settings.store.url)
    return SwitchRepository(create_engine(settings.store.url))


def _with_admin(config_path: Path | None,
                action: Callable[[SwitchAdmin], Awaitable[None]]) -> None:
    settings = settings_from(config_path)
    known = {
        "deployment": {d.name for d in settings.deployments},
        "model": {m.name for m in settings.models},
        "provider": {d.provider for d in settings.deployments},
    }

    async def go() -> None:
        repository = await _repository(settings)
        engine = create_engine(settings.store.url)
        try:
            directory = OrgDirectory(OrgRepository(engine))
            await directory.refresh()
            await action(SwitchAdmin(repository, known=known,
                                     resolve_app=lambda ref: directory.app(ref).id,
                                     audit=audit_for(settings, engine)))
        finally:
            await repository.dispose()
            await engine.dispose()

    run(go())


@switch.command("off")
@config_option
@click.argument("scope", type=click.Choice(SCOPES))
@click.argument("name")
@click.option("--reason", default="", help="Why (kept with the switch).")
def switch_off(config_path: Path | None, scope: str, name: str, reason: str) -> None:
    """Disable SCOPE NAME at once (an app: tenant/team/app or its id; global: `all`)."""
    _with_admin(config_path, lambda a: a.set(scope, name, disabled=True, reason=reason,
                                             by="cli"))
    click.echo(f"{scope} {name} disabled")


@switch.command("on")
@config_option
@click.argument("scope", type=click.Choice(SCOPES))
@click.argument("name")
def switch_on(config_path: Path | None, scope: str, name: str) -> None:
    """Enable SCOPE NAME again."""
    _with_admin(config_path, lambda a: a.set(scope, name, disabled=False, by="cli"))
    click.echo(f"{scope} {name} enabled")


def _records(config_path: Path | None) -> list[SwitchRecord]:
    settings = settings_from(config_path)

    async def go() -> list[SwitchRecord]:
        repository = await _repository(settings)
        try:
            return await repository.all()
        finally:
            await repository.dispose()

    return run(go())


@switch.command("list")
@config_option
def switch_list(config_path: Path | None) -> None:
    """Show every switch that was ever set."""
    for r in _records(config_path):
        if r.scope.startswith(SAFE_PREFIX):
            continue
        state = "OFF" if r.disabled else "on"
        click.echo(f"{r.scope:<11} {r.name:<30} {state:<4} {when(r.updated_at)} "
                   f"{r.updated_by} {r.reason}")


@click.group("safe-mode")
def safe_mode() -> None:
    """Safe mode: an app, model, provider kind or everything answers with the configured
    safe response or through the designated safe deployment (config `safe_mode`)."""


@safe_mode.command("on")
@config_option
@click.argument("scope", type=click.Choice(SAFE_SCOPES))
@click.argument("name")
@click.option("--reason", default="", help="Why (kept with the setting, and audited).")
def safe_mode_on(config_path: Path | None, scope: str, name: str, reason: str) -> None:
    """Put SCOPE NAME in safe mode (an app: tenant/team/app or its id; global: `all`)."""
    _with_admin(config_path, lambda a: a.set_safe_mode(scope, name, enabled=True,
                                                       reason=reason, by="cli"))
    click.echo(f"{scope} {name} in safe mode")


@safe_mode.command("off")
@config_option
@click.argument("scope", type=click.Choice(SAFE_SCOPES))
@click.argument("name")
def safe_mode_off(config_path: Path | None, scope: str, name: str) -> None:
    """Take SCOPE NAME out of safe mode."""
    _with_admin(config_path, lambda a: a.set_safe_mode(scope, name, enabled=False, by="cli"))
    click.echo(f"{scope} {name} out of safe mode")


@safe_mode.command("list")
@config_option
def safe_mode_list(config_path: Path | None) -> None:
    """Show every safe-mode setting."""
    for r in _records(config_path):
        if r.scope.startswith(SAFE_PREFIX):
            state = "SAFE" if r.disabled else "off"
            click.echo(f"{r.scope.removeprefix(SAFE_PREFIX):<11} {r.name:<30} {state:<4} "
                       f"{when(r.updated_at)} {r.updated_by} {r.reason}")
