"""Open the store a config names, for commands that work on it directly."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.audit.trail import ChainAudit, audit_key
from pavedroad.config.models import Settings
from pavedroad.service.keys import KeyAdmin
from pavedroad.service.org import OrgAdmin, OrgDirectory
from pavedroad.store.audit import AuditRepository
from pavedroad.store.database import create_engine, migrate
from pavedroad.store.keys import KeyRepository
from pavedroad.store.org import OrgRepository

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(slots=True)
class Store:
    engine: AsyncEngine
    org: OrgAdmin
    keys: KeyAdmin
    audit: ChainAudit | None = None  # admin changes made here are audited, actor "cli"


def audit_for(settings: Settings, engine: AsyncEngine) -> ChainAudit | None:
    """The audit hook of admin changes made by the CLI (None: `audit.enabled: false`)."""
    if not settings.audit.enabled:
        return None
    return ChainAudit(AuditRepository(engine, key=audit_key(settings)),
                      retention_days=settings.audit.retention_days)


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    await asyncio.to_thread(migrate, settings.store.url)
    engine = create_engine(settings.store.url)
    try:
        directory = OrgDirectory(OrgRepository(engine))
        await directory.refresh()
        audit = audit_for(settings, engine)
        yield Store(engine, OrgAdmin(OrgRepository(engine), directory,
                                     vocabulary=settings.policy, audit=audit),
                    KeyAdmin(KeyRepository(engine), directory,
                             known_models=[m.name for m in settings.models], audit=audit),
                    audit)
    finally:
        await engine.dispose()


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


def parse_pairs(items: tuple[str, ...], what: str) -> dict[str, str]:
    """`k=v` options (repeatable) to a dict."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{what} must look like key=value (got {item!r})")
        out[key.strip()] = value.strip()
    return out


def limits_from(rpm: int | None, tpm: int | None, concurrent: int | None) -> dict[str, int]:
    return {k: v for k, v in (("rpm", rpm), ("tpm", tpm), ("concurrent", concurrent))
            if v is not None}


def when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%d %H:%M")


limit_options = [
    click.option("--rpm", type=click.IntRange(min=1), default=None, help="Requests per minute."),
    click.option("--tpm", type=click.IntRange(min=1), default=None, help="Tokens per minute."),
    click.option("--concurrent", type=click.IntRange(min=1), default=None,
                 help="Requests in flight at once."),
]
