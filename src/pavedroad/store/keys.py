"""Virtual keys in the database. Only hashes are stored; the plaintext is shown once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.store.schema import api_keys


@dataclass(slots=True, frozen=True)
class KeyRecord:
    id: str
    name: str
    key_hash: str
    key_prefix: str
    models: tuple[str, ...] | None
    app_id: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    updated_at: float
    metadata: dict[str, str] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    role: str = "caller"  # caller | tenant_admin (docs/adr/0012)

    def public(self) -> dict[str, Any]:
        """What the admin API and CLI may show (never the hash)."""
        return {
            "id": self.id, "name": self.name, "prefix": self.key_prefix,
            "models": list(self.models) if self.models is not None else None,
            "app_id": self.app_id, "limits": self.limits, "tags": self.tags,
            "metadata": self.metadata, "created_at": self.created_at,
            "expires_at": self.expires_at, "revoked_at": self.revoked_at, "role": self.role,
        }


def _record(row: Any) -> KeyRecord:
    return KeyRecord(
        id=row.id, name=row.name, key_hash=row.key_hash, key_prefix=row.key_prefix,
        models=tuple(row.models) if row.models is not None else None, app_id=row.app_id,
        created_at=row.created_at, expires_at=row.expires_at, revoked_at=row.revoked_at,
        updated_at=row.updated_at, metadata=dict(row.metadata or {}),
        limits=dict(row.limits or {}), tags=dict(row.tags or {}), role=row.role,
    )


class KeyRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert(self, record: KeyRecord) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(api_keys.insert().values(
                id=record.id, name=record.name, key_hash=record.key_hash,
                key_prefix=record.key_prefix,
                models=list(record.models) if record.models is not None else None,
                app_id=record.app_id, limits=record.limits, tags=record.tags,
                metadata=record.metadata, created_at=record.created_at,
                expires_at=record.expires_at, revoked_at=record.revoked_at,
                updated_at=record.updated_at, role=record.role,
            ))

    async def all(self, *, include_revoked: bool = False) -> list[KeyRecord]:
        query = sa.select(api_keys).order_by(api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        async with self._engine.connect() as conn:
            return [_record(r) for r in (await conn.execute(query)).all()]

    async def find(self, ident: str) -> KeyRecord | None:
        """By id, or by name when the name is unique."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(api_keys).where(
                sa.or_(api_keys.c.id == ident, api_keys.c.name == ident)))).all()
        exact = [r for r in rows if r.id == ident]
        if exact:
            return _record(exact[0])
        return _record(rows[0]) if len(rows) == 1 else None

    async def revoke(self, key_id: str) -> KeyRecord | None:
        now = time.time()
        async with self._engine.begin() as conn:
            result = await conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now, updated_at=now)
            )
            if result.rowcount == 0:
                return None
            row = (await conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id))).one()
        return _record(row)

    async def changed_since(self, since: float) -> list[KeyRecord]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(api_keys).where(api_keys.c.updated_at > since))).all()
        return [_record(r) for r in rows]
