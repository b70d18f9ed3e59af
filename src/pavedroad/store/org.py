"""Tenants, teams and apps in the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.core.errors import Conflict
from pavedroad.store.schema import apps, teams, tenants

DEFAULT_TENANT, DEFAULT_TEAM, DEFAULT_APP = "ten_default", "team_default", "app_default"


@dataclass(slots=True, frozen=True)
class TenantRecord:
    id: str
    name: str
    limits: dict[str, int]
    updated_at: float

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "limits": self.limits}


@dataclass(slots=True, frozen=True)
class TeamRecord:
    id: str
    tenant_id: str
    name: str
    limits: dict[str, int]
    updated_at: float

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "tenant_id": self.tenant_id, "name": self.name,
                "limits": self.limits}


@dataclass(slots=True, frozen=True)
class AppRecord:
    id: str
    team_id: str
    name: str
    limits: dict[str, int]
    tags: dict[str, str]
    fail_mode: str
    updated_at: float
    settings: dict[str, Any] = field(default_factory=dict)
    risk_class: str = "minimal"
    data_classification: str = "internal"

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "team_id": self.team_id, "name": self.name,
                "limits": self.limits, "tags": self.tags, "fail_mode": self.fail_mode,
                "settings": self.settings, "risk_class": self.risk_class,
                "data_classification": self.data_classification}


def _tenant(row: Any) -> TenantRecord:
    return TenantRecord(row.id, row.name, dict(row.limits or {}), row.updated_at)


def _team(row: Any) -> TeamRecord:
    return TeamRecord(row.id, row.tenant_id, row.name, dict(row.limits or {}), row.updated_at)


def _app(row: Any) -> AppRecord:
    return AppRecord(row.id, row.team_id, row.name, dict(row.limits or {}), dict(row.tags or {}),
                     row.fail_mode, row.updated_at, dict(row.settings or {}),
                     row.risk_class, row.data_classification)


@dataclass(slots=True)
class OrgChanges:
    tenants: list[TenantRecord]
    teams: list[TeamRecord]
    apps: list[AppRecord]

    def __len__(self) -> int:
        return len(self.tenants) + len(self.teams) + len(self.apps)


class OrgRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _insert(self, table: sa.Table, what: str, values: dict[str, Any]) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(table.insert().values(**values))
        except IntegrityError:
            raise Conflict(f"{what} {values['name']!r} already exists") from None

    async def add_tenant(self, record: TenantRecord, *, now: float) -> None:
        await self._insert(tenants, "tenant", {"id": record.id, "name": record.name,
                                               "limits": record.limits, "created_at": now,
                                               "updated_at": now})

    async def add_team(self, record: TeamRecord, *, now: float) -> None:
        await self._insert(teams, "team", {"id": record.id, "tenant_id": record.tenant_id,
                                           "name": record.name, "limits": record.limits,
                                           "created_at": now, "updated_at": now})

    async def add_app(self, record: AppRecord, *, now: float) -> None:
        await self._insert(apps, "app", {
            "id": record.id, "team_id": record.team_id, "name": record.name,
            "limits": record.limits, "tags": record.tags, "fail_mode": record.fail_mode,
            "settings": record.settings, "risk_class": record.risk_class,
            "data_classification": record.data_classification, "created_at": now,
            "updated_at": now})

    async def update_app(self, app_id: str, *, now: float, **values: Any) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(apps.update().where(apps.c.id == app_id)
                               .values(**values, updated_at=now))

    async def changed_since(self, since: float) -> OrgChanges:
        async with self._engine.connect() as conn:
            found = [
                (await conn.execute(sa.select(table).where(table.c.updated_at > since))).all()
                for table in (tenants, teams, apps)
            ]
        return OrgChanges([_tenant(r) for r in found[0]], [_team(r) for r in found[1]],
                          [_app(r) for r in found[2]])
