"""Budgets in the database, and what each subject spent according to the ledger.

Budgets are never deleted, only marked: gateways refresh incrementally by `updated_at`,
and a row that vanished would never be seen to go.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.budgets.model import Budget
from pavedroad.core.errors import Conflict
from pavedroad.core.ids import new_id
from pavedroad.store.schema import budgets, ledger, spend_daily

_ROLLUP_COLUMNS = {"key": spend_daily.c.key_id, "app": spend_daily.c.app_id,
                   "team": spend_daily.c.team_id, "tenant": spend_daily.c.tenant_id}
_IN_PROGRESS = "in_progress"


def _budget(row: Any) -> Budget:
    return Budget(id=row.id, scope=row.scope, subject_id=row.subject_id, subject=row.subject,
                  period=row.period, amount=row.amount, soft=row.soft, hard=row.hard,
                  updated_at=row.updated_at, deleted=row.deleted_at is not None)


class BudgetRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def put(
        self, *, scope: str, subject_id: str, subject: str, period: str, amount: float,
        soft: float | None, hard: bool,
    ) -> tuple[Budget, bool]:
        """Set the live budget of (scope, subject, period): update it, or create it. The
        budget and whether it was created."""
        now = time.time()
        values = {"subject": subject, "amount": amount, "soft": soft, "hard": hard,
                  "updated_at": now}
        live = (budgets.c.scope == scope, budgets.c.subject_id == subject_id,
                budgets.c.period == period, budgets.c.deleted_at.is_(None))
        try:
            async with self._engine.begin() as conn:
                found = (await conn.execute(sa.select(budgets.c.id).where(*live))).first()
                if found is not None:
                    await conn.execute(budgets.update().where(budgets.c.id == found.id)
                                       .values(**values))
                    budget_id, created = found.id, False
                else:
                    budget_id, created = new_id("bud"), True
                    await conn.execute(budgets.insert().values(
                        id=budget_id, scope=scope, subject_id=subject_id, period=period,
                        created_at=now, deleted_at=None, **values))
                row = (await conn.execute(
                    sa.select(budgets).where(budgets.c.id == budget_id))).one()
        except IntegrityError:  # another admin set the same budget at the same moment
            raise Conflict(f"a {period} budget of {scope} {subject!r} was just set by "
                           "someone else; list budgets and try again") from None
        return _budget(row), created

    async def delete(self, budget_id: str) -> Budget | None:
        now = time.time()
        async with self._engine.begin() as conn:
            result = await conn.execute(
                budgets.update()
                .where(budgets.c.id == budget_id, budgets.c.deleted_at.is_(None))
                .values(deleted_at=now, updated_at=now))
            if result.rowcount == 0:
                return None
            row = (await conn.execute(sa.select(budgets).where(budgets.c.id == budget_id))).one()
        return _budget(row)

    async def all(self) -> list[Budget]:
        query = (sa.select(budgets).where(budgets.c.deleted_at.is_(None))
                 .order_by(budgets.c.scope, budgets.c.subject, budgets.c.period))
        async with self._engine.connect() as conn:
            return [_budget(r) for r in (await conn.execute(query)).all()]

    async def changed_since(self, since: float) -> list[Budget]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(budgets).where(budgets.c.updated_at > since))).all()
        return [_budget(r) for r in rows]


class LedgerSpend:
    """What a subject spent since a UTC day, in nano-USD, from the ledger's tables.

    Keys, apps, teams and tenants are summed from the daily rollups (updated in the same
    transaction as the ledger rows, and far fewer); end users from the ledger itself.
    Unpriced requests (cost unknown) add nothing.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def spent(self, scope: str, subject_id: str, *, since_day: str | None) -> int:
        if scope == "user":
            tenant_id, _, user = subject_id.partition("/")
            query = sa.select(sa.func.sum(ledger.c.cost_nanousd)).where(
                ledger.c.tenant_id == tenant_id, ledger.c.end_user == user,
                ledger.c.outcome != _IN_PROGRESS)
            if since_day is not None:
                query = query.where(ledger.c.day >= since_day)
        else:
            query = sa.select(sa.func.sum(spend_daily.c.cost_nanousd)).where(
                _ROLLUP_COLUMNS[scope] == subject_id)
            if since_day is not None:
                query = query.where(spend_daily.c.day >= since_day)
        async with self._engine.connect() as conn:
            total = (await conn.execute(query)).scalar()
        return int(total or 0)
