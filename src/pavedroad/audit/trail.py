"""The audit trail as the gateway and the CLI run it.

Request records take the spend ledger's road (docs/adr/0007): journaled on local disk
before the first byte of the answer, then chained into the store by a flusher on its own
thread. Admin actions are chained at once, in a transaction that commits before the admin
call returns. A background task enforces retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.audit.chain import Verdict, verify
from pavedroad.audit.record import (
    AuditPolicy,
    Redactor,
    admin_record,
    policy_of,
    request_record,
)
from pavedroad.config.loader import ConfigError, ConfigProblem
from pavedroad.config.models import AuditConfig, LedgerConfig, Settings
from pavedroad.config.secrets import SecretResolver
from pavedroad.core.ids import new_id
from pavedroad.guardrails.base import ScanContext
from pavedroad.guardrails.redact import placeholders
from pavedroad.metering.journal import JournalWriter
from pavedroad.metering.ledger import FlusherThread, journal_dir_for
from pavedroad.plugins.registry import PluginRegistry
from pavedroad.service.pipeline import ChatResult, Exchange, Next
from pavedroad.store.audit import ANSWERING, AuditRepository

log = logging.getLogger("pavedroad.audit")
AUDIT_FIELDS = ("id", "kind", "at")


class AuditMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.journal_pending = Gauge(
            "pavedroad_audit_pending_bytes", "Audit journal bytes not yet chained in the store.",
            registry=registry)
        self.flushed = Counter("pavedroad_audit_flushed_records",
                               "Audit records chained into the store.", registry=registry)
        self.flush_failures = Counter(
            "pavedroad_audit_flush_failures",
            "Audit flushes that failed; the journal keeps the records.", registry=registry)
        self.journal_errors = Counter(
            "pavedroad_audit_journal_errors",
            "Audit records that could not be written to, or read back from, the journal.",
            registry=registry)


class CaptureAnswer:
    """A pipeline stage: asks the call to keep the answer's text when the audit will store
    content (levels `full` and `redacted`)."""

    def __init__(self, default: AuditPolicy) -> None:
        self._default = default

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        if policy_of(exchange, self._default).level != "metadata" and exchange.answer is None:
            exchange.answer = []
        return await call_next(exchange)


class AuditObserver:
    """Journals one record per request before its first byte (like the ledger); a stream
    also journals a provisional record when it starts answering, so a crash mid-stream
    still leaves its record (chained as `interrupted`)."""

    def __init__(self, trail: AuditTrail) -> None:
        self._trail = trail

    def answering(self, exchange: Exchange) -> None:
        if exchange.request.stream and not exchange.ended:
            record = self._trail.record_of(exchange, outcome="in_progress")
            self._trail.journal({**record, "phase": ANSWERING})

    def ended(self, exchange: Exchange) -> None:
        self._trail.journal(self._trail.record_of(exchange))


class ChainAudit:
    """Admin actions straight into the chain: one transaction, committed before the admin
    call returns (the CLI's audit, and the gateway's for admin calls)."""

    def __init__(self, repository: AuditRepository, *, retention_days: float | None) -> None:
        self._repository = repository
        self._retention = retention_days

    async def admin_action(self, *, actor: str, action: str, target: str, before: Any,
                           after: Any, tenant_id: str | None = None) -> None:
        await self._repository.append([admin_record(
            actor=actor, action=action, target=target, before=before, after=after,
            tenant_id=tenant_id, retention_days=self._retention)])


@dataclass(slots=True)
class PruneResult:
    dropped: int
    deleted: int


def pii_redactor(plugins: PluginRegistry) -> Redactor | None:
    """Redacts text with the `pii` guardrail's findings (typed placeholders such as
    `<EMAIL_1>`); None when no such guardrail is registered."""
    try:
        guardrail = plugins.guardrail_factory("pii")({})
    except LookupError:
        return None
    context = ScanContext(direction="input")

    def redact(text: str) -> str:
        return placeholders(text, guardrail.scan(text, context))

    return redact


def audit_key(settings: Settings, env: Mapping[str, str] | None = None) -> bytes | None:
    """`audit.hmac_key` resolved (env:, secret:, file: or a literal); None: unkeyed."""
    try:
        secret = SecretResolver(secrets_file=settings.secrets_file,
                                env=os.environ if env is None else env).resolve(
            settings.audit.hmac_key)
    except LookupError as exc:
        raise ConfigError([ConfigProblem("audit.hmac_key", str(exc).strip("'\""))]) from exc
    return None if secret is None else secret.get_secret_value().encode()


def build_audit(settings: Settings, engine: AsyncEngine, *,
                registry: CollectorRegistry | None = None,
                plugins: PluginRegistry | None = None,
                env: Mapping[str, str] | None = None) -> AuditTrail | None:
    config = settings.audit
    if not config.enabled:
        return None
    # Beside the ledger's journal, not in it: each directory belongs to one flusher.
    ledger = journal_dir_for(settings)
    directory = config.journal_dir or ledger.with_name(f"{ledger.name}-audit")
    repository = AuditRepository(engine, key=audit_key(settings, env))
    return AuditTrail(config, directory, settings.store.url, repository,
                      registry=registry,
                      redactor=pii_redactor(plugins) if plugins is not None else None)


class AuditTrail:
    def __init__(self, config: AuditConfig, directory: Path, store_url: str,
                 repository: AuditRepository, *, registry: CollectorRegistry | None = None,
                 redactor: Redactor | None = None) -> None:
        self.config = config
        self.directory = directory
        self.repository = repository
        self._store_url = store_url
        self.redactor = redactor
        self.metrics = AuditMetrics(registry or CollectorRegistry())
        self.default = AuditPolicy(level=config.level, retention_days=config.retention_days)
        self.observer = AuditObserver(self)
        self.capture = CaptureAnswer(self.default)
        self.admin = ChainAudit(repository, retention_days=config.retention_days)
        self._writer: JournalWriter | None = None
        self._flusher: FlusherThread | None = None
        self._pruner: asyncio.Task[None] | None = None

    # --- request records -------------------------------------------------------------

    def record_of(self, exchange: Exchange, *, outcome: str | None = None) -> dict[str, Any]:
        return request_record(exchange, policy_of(exchange, self.default),
                              redactor=self.redactor, outcome=outcome)

    def journal(self, record: dict[str, Any]) -> None:
        try:
            if self._writer is None:
                raise OSError("the audit journal is not open (the gateway has not started)")
            self._writer.append(orjson.dumps(record) + b"\n")
        except (OSError, TypeError):
            self.metrics.journal_errors.inc()
            log.exception("could not journal the audit record of %s", record.get("id"))

    # --- admin actions (the AdminAudit protocol) ---------------------------------------

    async def admin_action(self, *, actor: str, action: str, target: str, before: Any,
                           after: Any, tenant_id: str | None = None) -> None:
        await self.admin.admin_action(actor=actor, action=action, target=target,
                                      before=before, after=after, tenant_id=tenant_id)

    # --- retention and verification ------------------------------------------------------

    async def prune(self, *, now: float | None = None, actor: str = "retention") -> PruneResult:
        at = time.time() if now is None else now
        record = admin_record(actor=actor, action="audit.prune", target="audit", before=None,
                              after=None, retention_days=self.config.retention_days, now=at)
        record.update(kind="prune", id=new_id("aud"))
        dropped, deleted = await self.repository.prune(at, record=record)
        return PruneResult(dropped, deleted)

    async def verify(self, *, now: float | None = None) -> Verdict:
        return await verify_chain(self.repository, now=now)

    async def _prune_forever(self) -> None:
        while True:
            try:
                result = await self.prune()
                if result.dropped or result.deleted:
                    log.info("audit retention: %d contents dropped, %d records deleted",
                             result.dropped, result.deleted)
            except Exception:
                log.warning("the audit retention job failed; it runs again later",
                            exc_info=True)
            await asyncio.sleep(self.config.prune_seconds)

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        config = self.config
        self._writer = JournalWriter(self.directory, rotate_bytes=16 * 1024 * 1024,
                                     fsync=config.fsync)
        flush = LedgerConfig(flush_seconds=config.flush_seconds)
        key = self.repository.key  # the flusher's own repository chains with the same key
        self._flusher = FlusherThread(self._writer, self._store_url, flush, self.metrics,
                                      sink=lambda engine: AuditRepository(engine, key=key),
                                      required=AUDIT_FIELDS, name="audit-flusher")
        await asyncio.to_thread(self._flusher.start)
        self._pruner = asyncio.create_task(self._prune_forever(), name="audit-retention")

    async def stop(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        if self._flusher is None or self._writer is None:
            return
        self._writer.close()
        await asyncio.to_thread(self._flusher.stop)
        self._flusher = self._writer = None


async def verify_chain(repository: AuditRepository, *, now: float | None = None) -> Verdict:
    head = await repository.head()
    # Bounded by the head read first: records chained meanwhile are for the next walk.
    rows = repository.chain(first=int(head["base_seq"]) + 1, last=int(head["seq"]))
    verdict = await verify(rows,
                        base_seq=int(head["base_seq"]), base_hash=head["base_hash"],
                        checkpoint=head["checkpoint_hash"], head_seq=int(head["seq"]),
                        head_hash=head["hash"], now=time.time() if now is None else now,
                        key=repository.key)
    if verdict.ok:
        # The head moves in the transaction that appends, so a row past the head as it is
        # now was written by someone other than the chain's writer.
        latest = await repository.head()
        stray = await repository.find(after=int(latest["seq"]), limit=1)
        if stray:
            verdict.ok, verdict.bad_seq, verdict.bad_id = False, stray[0]["seq"], stray[0]["id"]
            verdict.reason = "it lies past the chain's head (inserted outside the writer)"
    return verdict
