"""Scores online evaluation gave live answers: written in batches, read for the dashboard."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.store.ledger import _insert
from pavedroad.store.schema import online_eval_scores as table


class OnlineEvalRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert a batch in one transaction; a row already there (same request and scorer)
        is kept as it was."""
        if not rows:
            return
        async with self._engine.begin() as conn:
            insert = _insert(conn, table).on_conflict_do_nothing(
                index_elements=["request_id", "scorer"])
            await conn.execute(insert, [dict(row) for row in rows])

    @staticmethod
    def _where(*, tenant: str | None, app: str | None, since: float | None,
               until: float | None) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = []
        if tenant is not None:
            clauses.append(table.c.tenant_id == tenant)
        if app is not None:
            clauses.append(table.c.app_id == app)
        if since is not None:
            clauses.append(table.c.created_at >= since)
        if until is not None:
            clauses.append(table.c.created_at < until)
        return clauses

    async def rows(self, *, tenant: str | None = None, app: str | None = None,
                   since: float | None = None, until: float | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        """The newest scores first."""
        query = (sa.select(table).where(*self._where(tenant=tenant, app=app, since=since,
                                                     until=until))
                 .order_by(table.c.created_at.desc(), table.c.request_id, table.c.scorer)
                 .limit(limit))
        async with self._engine.connect() as conn:
            return [{str(k): v for k, v in row._mapping.items()}
                    for row in (await conn.execute(query)).all()]

    async def summary(self, *, tenant: str | None = None, app: str | None = None,
                      since: float | None = None, until: float | None = None,
                      ) -> list[dict[str, Any]]:
        """Per app and scorer: how many scores, their mean and the share that passed."""
        passed = sa.func.sum(sa.case((table.c.passed.is_(True), 1), else_=0))
        query = (sa.select(table.c.app_id, table.c.scorer, sa.func.count().label("scores"),
                           sa.func.avg(table.c.value).label("mean"), passed.label("passes"))
                 .where(*self._where(tenant=tenant, app=app, since=since, until=until))
                 .group_by(table.c.app_id, table.c.scorer)
                 .order_by(table.c.app_id, table.c.scorer))
        async with self._engine.connect() as conn:
            result = (await conn.execute(query)).all()
        return [{"app_id": r.app_id, "scorer": r.scorer, "count": int(r.scores),
                 "mean": round(float(r.mean), 6), "passed": int(r.passes),
                 "pass_rate": round(int(r.passes) / int(r.scores), 6)} for r in result]
