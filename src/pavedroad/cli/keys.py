"""`pavedroad keys …`: create, list and revoke virtual keys in the store the config names.

Running gateways re-read keys every `auth.refresh_seconds`, so changes take effect without
a restart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from pavedroad.cli.common import config_option, run, settings_from
from pavedroad.cli.store import limit_options, limits_from, open_store, parse_duration, parse_pairs, when
from pavedroad.service.keys import CreatedKey
from pavedroad.store.keys import KeyRecord


@click.group()
def keys() -> None:
    """Create, list and revoke virtual API keys."""


def _create_options(fn: Any) -> Any:
    for option in reversed(limit_options):
        fn = option(fn)
    return fn


@keys.command("create")
@config_option
@click.option("--name", required=True, help="What the key is for (shown in lists and logs).")
@click.option("--app", default=None,
              help="The app it belongs to, as tenant/team/app or an id. Default: the default app.")
@click.option("--models", default=None,
              help="Comma-separated models or tiers the key may use. Default: all.")
@click.option("--expires", default=None, help="Lifetime, e.g. 30d, 12h, 15m. Default: never.")
@click.option("--tag", "tags", multiple=True, help="Cost-attribution tag key=value (repeatable).")
@click.option("--role", type=click.Choice(["caller", "tenant-admin"]), default="caller",
              show_default=True,
              help="tenant-admin: may also read its app's tenant through the admin API "
                   "(audit, ledger, spend, budgets, organisation); needs --app.")
@_create_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def keys_create(config_path: Path | None, name: str, app: str | None, models: str | None,
                expires: str | None, tags: tuple[str, ...], role: str, rpm: int | None,
                tpm: int | None, concurrent: int | None, as_json: bool) -> None:
    """Create a key. Its secret is printed once and cannot be recovered."""
    settings = settings_from(config_path)
    model_list = [m.strip() for m in models.split(",") if m.strip()] if models else None

    async def go() -> CreatedKey:
        async with open_store(settings) as store:
            return await store.keys.create(
                name=name, app=app, models=model_list, expires_in=parse_duration(expires),
                tags=parse_pairs(tags, "--tag"), limits=limits_from(rpm, tpm, concurrent),
                role=role)

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

    async def go() -> tuple[list[KeyRecord], dict[str, str]]:
        async with open_store(settings) as store:
            records = await store.keys.list(include_revoked=include_revoked)
            paths = {r.app_id: store.org.directory.path(r.app_id) for r in records}
            return records, paths

    records, paths = run(go())
    if as_json:
        click.echo(json.dumps([{**r.public(), "app": paths[r.app_id]} for r in records]))
        return
    click.echo(f"{'ID':<32} {'NAME':<18} {'PREFIX':<11} {'APP':<26} {'MODELS':<18} "
               f"{'EXPIRES':<17} REVOKED")
    for r in records:
        models = ",".join(r.models) if r.models is not None else "*"
        click.echo(f"{r.id:<32} {r.name:<18} {r.key_prefix:<11} {paths[r.app_id]:<26} "
                   f"{models:<18} {when(r.expires_at):<17} {when(r.revoked_at)}")


@keys.command("revoke")
@config_option
@click.argument("key")
def keys_revoke(config_path: Path | None, key: str) -> None:
    """Revoke KEY (its id, or its name when unique). Takes effect within a second."""
    settings = settings_from(config_path)

    async def go() -> KeyRecord:
        async with open_store(settings) as store:
            return await store.keys.revoke(key)

    record = run(go())
    click.echo(f"revoked {record.id} ({record.name})")
