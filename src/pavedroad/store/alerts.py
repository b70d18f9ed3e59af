"""Alerts in the database: what fired, when, and when it resolved, for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.store.schema import alerts


@dataclass(slots=True)
class AlertRecord:
    id: str
    fingerprint: str  # one condition (kind, app, objective, window): at most one firing
    kind: str  # slo_burn | cost_anomaly
    severity: str  # page | ticket
    message: str
    started_at: float
    tenant_id: str | None = None
    app_id: str | None = None
    app: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    resolved_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "severity": self.severity, "app": self.app,
                "app_id": self.app_id, "tenant_id": self.tenant_id, "message": self.message,
                "details": self.details, "started_at": self.started_at,
                "resolved_at": self.resolved_at,
                "state": "firing" if self.resolved_at is None else "resolved"}


class AlertRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def open(self, record: AlertRecord) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(alerts.insert().values(
                id=record.id, fingerprint=record.fingerprint, kind=record.kind,
                severity=record.severity, tenant_id=record.tenant_id, app_id=record.app_id,
                app=record.app, message=record.message, details=record.details,
                started_at=record.started_at, resolved_at=None))

    async def resolve(self, alert_id: str, at: float) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(alerts.update().where(alerts.c.id == alert_id)
                               .values(resolved_at=at))

    async def firing(self) -> list[AlertRecord]:
        return await self.list(state="firing", limit=10_000)

    async def list(self, *, state: str = "all", tenant_id: str | None = None,
                   app_id: str | None = None, since: float | None = None,
                   limit: int = 200) -> list[AlertRecord]:
        query = sa.select(alerts).order_by(alerts.c.started_at.desc()).limit(limit)
        if state == "firing":
            query = query.where(alerts.c.resolved_at.is_(None))
        elif state == "resolved":
            query = query.where(alerts.c.resolved_at.is_not(None))
        if tenant_id is not None:
            query = query.where(alerts.c.tenant_id == tenant_id)
        if app_id is not None:
            query = query.where(alerts.c.app_id == app_id)
        if since is not None:
            query = query.where(alerts.c.started_at >= since)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [AlertRecord(id=r.id, fingerprint=r.fingerprint, kind=r.kind,
                            severity=r.severity, message=r.message, started_at=r.started_at,
                            tenant_id=r.tenant_id, app_id=r.app_id, app=r.app,
                            details=dict(r.details or {}), resolved_at=r.resolved_at)
                for r in rows]
