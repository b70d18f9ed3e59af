"""`pavedroad audit …`: verify the hash chain, enforce retention, export records."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from pavedroad.audit.chain import Verdict
from pavedroad.audit.export import Exported, check_export, export, parse_time
from pavedroad.audit.record import admin_record
from pavedroad.audit.trail import audit_key, verify_chain
from pavedroad.cli.common import config_option, fail, run, settings_from
from pavedroad.cli.store import open_store
from pavedroad.config.loader import ConfigError
from pavedroad.core.errors import InvalidRequest
from pavedroad.store.audit import AuditRepository


@click.group()
def audit() -> None:
    """The tamper-evident audit trail: verify, prune, export."""


@audit.command("verify")
@config_option
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Check an export directory (its manifest) instead of the store.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def audit_verify(config_path: Path | None, export_dir: Path | None, as_json: bool) -> None:
    """Walk the chain from its checkpoint; name the first bad record and exit 1 if any."""
    if export_dir is not None:
        problems = check_export(export_dir, key=_key_of(config_path))
        for problem in problems:
            click.echo(problem)
        if problems:
            fail(f"the export in {export_dir} does not verify")
        click.echo(f"{export_dir}: ok")
        return
    settings = settings_from(config_path)

    async def go() -> Verdict:
        async with open_store(settings) as store:
            return await verify_chain(AuditRepository(store.engine, key=audit_key(settings)))

    verdict = run(go())
    if as_json:
        click.echo(json.dumps(verdict.as_dict()))
    elif verdict.ok:
        click.echo(f"ok: {verdict.checked} records from checkpoint {verdict.base_seq} to head "
                   f"{verdict.head_seq} ({verdict.pruned} with content past retention); "
                   f"head {verdict.head_hash}")
    if not verdict.ok:
        fail(f"audit chain broken at record {verdict.bad_seq}"
             f"{f' ({verdict.bad_id})' if verdict.bad_id else ''}: {verdict.reason}")


@audit.command("prune")
@config_option
def audit_prune(config_path: Path | None) -> None:
    """Enforce retention now: drop expired content, delete the expired prefix, keep a
    checkpoint so `audit verify` stays green. Gateways also run this on a timer."""
    settings = settings_from(config_path)

    async def go() -> tuple[int, int]:
        async with open_store(settings) as store:
            record = admin_record(actor="cli", action="audit.prune", target="audit",
                                  before=None, after=None,
                                  retention_days=settings.audit.retention_days)
            record["kind"] = "prune"
            repository = AuditRepository(store.engine, key=audit_key(settings))
            return await repository.prune(time.time(), record=record)

    dropped, deleted = run(go())
    click.echo(f"pruned: {dropped} records past retention lost their content, "
               f"{deleted} were deleted from the start of the chain")


@audit.command("export")
@config_option
@click.option("--from", "since", default=None, help="Start (date, date-time or Unix seconds).")
@click.option("--to", "until", default=None, help="End, exclusive (date, date-time or seconds).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Directory for the JSONL file and manifest.json.")
def audit_export(config_path: Path | None, since: str | None, until: str | None,
                 out: Path) -> None:
    """Write records between --from and --to as JSONL plus a manifest (count, first and
    last sequence, chain head, the file's sha256)."""
    settings = settings_from(config_path)
    try:
        first, last = parse_time(since, "from"), parse_time(until, "to")
    except InvalidRequest as exc:
        raise click.BadParameter(exc.message) from None

    async def go() -> Exported:
        async with open_store(settings) as store:
            repository = AuditRepository(store.engine, key=audit_key(settings))
            return await export(repository, out, since=first, until=last)

    done = run(go())
    click.echo(f"exported {done.manifest['count']} records to {done.jsonl} "
               f"(manifest: {out / 'manifest.json'})")


def _key_of(config_path: Path | None) -> bytes | None:
    """`audit.hmac_key` of the config, for checking a keyed export offline."""
    try:
        return audit_key(settings_from(config_path))
    except ConfigError as exc:
        fail(str(exc), code=2)
