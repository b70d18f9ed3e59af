"""`pavedroad keys …` and `pavedroad switch …`: work on the store the config names.

The running gateway re-reads keys and switches every `auth.refresh_seconds`, so these
take effect without a restart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.cli.common import config_option, run, settings_from
from pavedroad.config.models import Settings
from pavedroad.routing.switches import SCOPES
from pavedroad.service.keys import KeyAdmin
from pavedroad.service.switches import SwitchAdmin
from pavedroad.store.database import create_engine, migrate
from pavedroad.store.keys import KeyRepository
from pavedroad.store.switches import SwitchRepository

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | None) -> float | None:
    """`90s`, `15m`, `12h`, `30d` (or plain seconds) to seconds."""
    if text is None:
        return None
    unit = text[-1].lower()
    try:
        return float(text[:-1]) * _UNITS[unit] if unit in _UNITS else float(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration like 30d, 12h, 15m or 90s") \
            from None


async def _engine(settings: Settings) -> AsyncEngine:
    await asyncio.to_thread(migrate, settings.store.url)
    return create_engine(settings.store.url)


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%d %H:%M")


@click.group()
def keys() -> None:
    """Create, list and revoke virtual API keys."""


@keys.command("create")
@config_option
@click.option("--name", required=True, help="What the key is for (shown in lists and logs).")
@click.option("--models", default=None,
              help="Comma-separated models or tiers the key may use. Default: all.")
@click.option("--team", default=None, help="Team the key belongs to (routing conditions).")
@click.option("--expires", default=None, help="Lifetime, e.g. 30d, 12h, 15m. Default: never.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def keys_create(config_path: Path | None, name: str, models: str | None, team: str | None,
                expires: str | None, as_json: bool) -> None:
    """Create a key. Its secret is printed once and cannot be recovered."""
    settings = settings_from(config_path)
    model_list = [m.strip() for m in models.split(",") if m.strip()] if models else None

    async def go() -> Any:
        engine = await _engine(settings)
        try:
            admin = KeyAdmin(KeyRepository(engine), known_models=[m.name for m in settings.models])
            return await admin.create(name=name, models=model_list, team=team,
                                      expires_in=parse_duration(expires))
        finally:
            await engine.dispose()

    created = run(go())
    if as_json:
        click.echo(json.dumps({**created.record.public(), "key": created.plaintext}))
        return
    click.echo(f"created {created.record.id} ({created.record.name})")
    click.echo(f"key: {created.plaintext}")
    click.echo("store it now: it is shown only once.")


@keys.command("list")
@config_option
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def keys_list(config_path: Path | None, include_revoked: bool, as_json: bool) -> None:
    """List keys (never their secrets)."""
    settings = settings_from(config_path)

    async def go() -> Any:
        engine = await _engine(settings)
        try:
            return await KeyAdmin(KeyRepository(engine)).list(include_revoked=include_revoked)
        finally:
            await engine.dispose()

    records = run(go())
    if as_json:
        click.echo(json.dumps([r.public() for r in records]))
        return
    click.echo(f"{'ID':<32} {'NAME':<20} {'PREFIX':<11} {'MODELS':<24} {'EXPIRES':<17} REVOKED")
    for r in records:
        models = ",".join(r.models) if r.models is not None else "*"
        click.echo(f"{r.id:<32} {r.name:<20} {r.key_prefix:<11} {models:<24} "
                   f"{_when(r.expires_at):<17} {_when(r.revoked_at)}")


@keys.command("revoke")
@config_option
@click.argument("key")
def keys_revoke(config_path: Path | None, key: str) -> None:
    """Revoke KEY (its id, or its name when unique). Takes effect within a second."""
    settings = settings_from(config_path)

    async def go() -> Any:
        engine = await _engine(settings)
        try:
            return await KeyAdmin(KeyRepository(engine)).revoke(key)
        finally:
            await engine.dispose()

    record = run(go())
    click.echo(f"revoked {record.id} ({record.name})")


@click.group()
def switch() -> None:
    """The kill switch: turn deployments, models or provider kinds off and on at run time."""


def _set_switch(config_path: Path | None, scope: str, name: str, *, disabled: bool,
                reason: str) -> None:
    settings = settings_from(config_path)
    known = {
        "deployment": {d.name for d in settings.deployments},
        "model": {m.name for m in settings.models},
        "provider": {d.provider for d in settings.deployments},
    }

    async def go() -> None:
        engine = await _engine(settings)
        try:
            await SwitchAdmin(SwitchRepository(engine), known=known).set(
                scope, name, disabled=disabled, reason=reason, by="cli")
        finally:
            await engine.dispose()

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

    async def go() -> Any:
        engine = await _engine(settings)
        try:
            return await SwitchRepository(engine).all()
        finally:
            await engine.dispose()

    for r in run(go()):
        state = "OFF" if r.disabled else "on"
        click.echo(f"{r.scope:<11} {r.name:<30} {state:<4} {_when(r.updated_at)} "
                   f"{r.updated_by} {r.reason}")
