"""The prompt registry in the database: prompts, versions, labels, their history, gates.

Every write that changes what a gateway serves (a new version, a label move) bumps the
prompt's `updated_at` in the same transaction, so `changed_since` finds it and gateways
refresh incrementally, as they do keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pavedroad.core.errors import Conflict
from pavedroad.core.ids import new_id
from pavedroad.store.schema import (
    prompt_gate_results,
    prompt_label_history,
    prompt_labels,
    prompt_versions,
    prompts,
)


@dataclass(frozen=True, slots=True)
class VersionRow:
    version: int
    content: dict[str, Any]
    content_hash: str
    note: str
    created_by: str
    created_at: float


@dataclass(frozen=True, slots=True)
class LabelMove:
    label: str
    from_version: int | None
    to_version: int
    action: str  # move | rollback
    actor: str
    at: float

    def public(self) -> dict[str, Any]:
        return {"label": self.label, "from": self.from_version, "to": self.to_version,
                "action": self.action, "actor": self.actor, "at": self.at}


@dataclass(frozen=True, slots=True)
class GateResult:
    id: int
    version: int
    passed: bool
    gate: str
    run_id: str
    summary: dict[str, Any]
    recorded_by: str
    recorded_at: float

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "passed": self.passed,
                "gate": self.gate, "run_id": self.run_id, "summary": self.summary,
                "recorded_by": self.recorded_by, "recorded_at": self.recorded_at}


@dataclass(frozen=True, slots=True)
class PromptRow:
    """A prompt with everything a gateway needs to render it."""

    id: str
    app_id: str
    tenant_id: str
    name: str
    description: str
    created_at: float
    updated_at: float
    versions: tuple[VersionRow, ...] = ()
    labels: dict[str, int] = field(default_factory=dict)


class PromptRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def changed_since(self, since: float) -> list[PromptRow]:
        query = sa.select(prompts).where(prompts.c.updated_at > since)
        async with self._engine.connect() as conn:
            heads = (await conn.execute(query)).all()
            return await self._load(conn, heads)

    async def find(self, *, tenant_id: str | None = None) -> list[PromptRow]:
        query = sa.select(prompts).order_by(prompts.c.name, prompts.c.id)
        if tenant_id is not None:
            query = query.where(prompts.c.tenant_id == tenant_id)
        async with self._engine.connect() as conn:
            return await self._load(conn, (await conn.execute(query)).all())

    async def _load(self, conn: AsyncConnection, heads: Sequence[Any]) -> list[PromptRow]:
        if not heads:
            return []
        ids = [h.id for h in heads]
        versions: dict[str, list[VersionRow]] = {i: [] for i in ids}
        labels: dict[str, dict[str, int]] = {i: {} for i in ids}
        rows = await conn.execute(sa.select(prompt_versions).where(
            prompt_versions.c.prompt_id.in_(ids)).order_by(prompt_versions.c.version))
        for r in rows:
            versions[r.prompt_id].append(VersionRow(r.version, dict(r.content), r.content_hash,
                                                    r.note, r.created_by, r.created_at))
        for r in await conn.execute(sa.select(prompt_labels).where(
                prompt_labels.c.prompt_id.in_(ids))):
            labels[r.prompt_id][r.label] = r.version
        return [PromptRow(h.id, h.app_id, h.tenant_id, h.name, h.description, h.created_at,
                          h.updated_at, tuple(versions[h.id]), labels[h.id]) for h in heads]

    async def add_version(self, *, app_id: str, tenant_id: str, name: str, description: str,
                          content: dict[str, Any], content_hash: str, note: str, actor: str,
                          now: float) -> tuple[str, int, bool]:
        """(prompt id, version, created): an existing version with the same hash is
        returned as it is; the prompt is created with its first version."""
        async with self._engine.begin() as conn:
            head = (await conn.execute(sa.select(prompts.c.id).where(
                prompts.c.app_id == app_id, prompts.c.name == name))).first()
            prompt_id = head.id if head is not None else new_id("prm")
            if head is None:
                try:
                    await conn.execute(prompts.insert().values(
                        id=prompt_id, app_id=app_id, tenant_id=tenant_id, name=name,
                        description=description, created_at=now, updated_at=now))
                except IntegrityError:  # a concurrent first push of the same name
                    raise Conflict(f"prompt {name!r} was created meanwhile; push again") \
                        from None
            same = (await conn.execute(sa.select(prompt_versions.c.version).where(
                prompt_versions.c.prompt_id == prompt_id,
                prompt_versions.c.content_hash == content_hash))).first()
            if same is not None:
                return prompt_id, int(same.version), False
            latest = (await conn.execute(sa.select(sa.func.max(prompt_versions.c.version)).where(
                prompt_versions.c.prompt_id == prompt_id))).scalar()
            version = int(latest or 0) + 1
            try:
                await conn.execute(prompt_versions.insert().values(
                    prompt_id=prompt_id, version=version, content=content,
                    content_hash=content_hash, note=note, created_by=actor, created_at=now))
            except IntegrityError:  # a concurrent push took the number or the hash
                raise Conflict(f"prompt {name!r} changed while pushing; push again") from None
            await conn.execute(prompts.update().where(prompts.c.id == prompt_id).values(
                updated_at=now, description=description or prompts.c.description))
            return prompt_id, version, True

    async def move_label(self, prompt_id: str, label: str, *, version: int,
                         expected: int | None, action: str, actor: str, now: float) -> None:
        """Point `label` at `version` if it still points at `expected` (None: unset).

        The check is the write itself (an update conditional on the old version, or an
        insert the primary key refuses), so two concurrent moves cannot both succeed on
        PostgreSQL, where a read-then-write would let the second overwrite the first."""
        moved = Conflict(f"label {label!r} moved meanwhile; look again and retry")
        values = {"version": version, "updated_by": actor, "updated_at": now}
        async with self._engine.begin() as conn:
            if expected is None:
                try:
                    await conn.execute(prompt_labels.insert().values(
                        prompt_id=prompt_id, label=label, **values))
                except IntegrityError:
                    raise moved from None
            else:
                updated = await conn.execute(prompt_labels.update().where(
                    prompt_labels.c.prompt_id == prompt_id, prompt_labels.c.label == label,
                    prompt_labels.c.version == expected).values(**values))
                if updated.rowcount != 1:
                    raise moved
            await conn.execute(prompt_label_history.insert().values(
                prompt_id=prompt_id, label=label, from_version=expected,
                to_version=version, action=action, actor=actor, at=now))
            await conn.execute(prompts.update().where(prompts.c.id == prompt_id).values(
                updated_at=now))

    async def history(self, prompt_id: str, *, label: str | None = None) -> list[LabelMove]:
        query = sa.select(prompt_label_history).where(
            prompt_label_history.c.prompt_id == prompt_id).order_by(prompt_label_history.c.seq)
        if label is not None:
            query = query.where(prompt_label_history.c.label == label)
        async with self._engine.connect() as conn:
            return [LabelMove(r.label, r.from_version, r.to_version, r.action, r.actor, r.at)
                    for r in await conn.execute(query)]

    async def add_gate_result(self, prompt_id: str, version: int, *, passed: bool, gate: str,
                              run_id: str, summary: dict[str, Any], actor: str,
                              now: float) -> GateResult:
        async with self._engine.begin() as conn:
            inserted = await conn.execute(prompt_gate_results.insert().values(
                prompt_id=prompt_id, version=version, passed=passed, gate=gate,
                run_id=run_id, summary=summary, recorded_by=actor, recorded_at=now))
            key = inserted.inserted_primary_key
            seq = int(key[0]) if key is not None else 0
        return GateResult(seq, version, passed, gate, run_id, summary, actor, now)

    async def gate_results(self, prompt_id: str, *,
                           version: int | None = None) -> list[GateResult]:
        """Oldest first: the last one is the latest verdict."""
        query = sa.select(prompt_gate_results).where(
            prompt_gate_results.c.prompt_id == prompt_id).order_by(prompt_gate_results.c.seq)
        if version is not None:
            query = query.where(prompt_gate_results.c.version == version)
        async with self._engine.connect() as conn:
            return [GateResult(r.seq, r.version, r.passed, r.gate, r.run_id, dict(r.summary),
                               r.recorded_by, r.recorded_at)
                    for r in await conn.execute(query)]
