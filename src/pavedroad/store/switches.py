"""Kill-switch state in the database: the one truth every replica and the CLI share."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.store.schema import kill_switches


@dataclass(slots=True, frozen=True)
class SwitchRecord:
    scope: str
    name: str
    disabled: bool
    reason: str
    updated_by: str
    updated_at: float


class SwitchRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def put(self, scope: str, name: str, *, disabled: bool, reason: str, by: str) -> None:
        now = time.time()
        async with self._engine.begin() as conn:
            updated = await conn.execute(
                kill_switches.update()
                .where(kill_switches.c.scope == scope, kill_switches.c.name == name)
                .values(disabled=disabled, reason=reason, updated_by=by, updated_at=now)
            )
            if updated.rowcount == 0:
                await conn.execute(kill_switches.insert().values(
                    scope=scope, name=name, disabled=disabled, reason=reason, updated_by=by,
                    updated_at=now))

    async def all(self) -> list[SwitchRecord]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(kill_switches).order_by(kill_switches.c.scope, kill_switches.c.name)
            )).all()
        return [SwitchRecord(r.scope, r.name, r.disabled, r.reason, r.updated_by, r.updated_at)
                for r in rows]

    async def dispose(self) -> None:
        await self._engine.dispose()

    async def disabled(self) -> set[tuple[str, str]]:
        return {(r.scope, r.name) for r in await self.all() if r.disabled}
