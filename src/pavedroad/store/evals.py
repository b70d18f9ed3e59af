"""Evaluation datasets, runs and per-case results in the database (docs/adr/0017).

Each case's result is its own row, inserted when the case finishes: an interrupted run
keeps what it finished, and resuming asks `finished_cases` what to skip.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.core.apikeys import hash_key
from pavedroad.store.schema import api_keys, eval_datasets, eval_results, eval_runs


@dataclass(frozen=True, slots=True)
class DatasetRow:
    name: str
    version: str
    tenant_id: str | None
    case_count: int
    created_at: float
    cases: list[dict[str, Any]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "cases": self.case_count,
                "created_at": self.created_at}


@dataclass(frozen=True, slots=True)
class RunRow:
    id: str
    suite: str
    dataset: str
    dataset_version: str
    target: dict[str, Any]
    spec: dict[str, Any]
    tenant_id: str | None
    app_id: str | None
    status: str
    case_count: int
    created_at: float
    finished_at: float | None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "suite": self.suite, "dataset": self.dataset,
                "dataset_version": self.dataset_version, "target": self.target,
                "status": self.status, "cases": self.case_count, "tenant_id": self.tenant_id,
                "app_id": self.app_id, "created_at": self.created_at,
                "finished_at": self.finished_at}


@dataclass(frozen=True, slots=True)
class ResultRow:
    case_id: str
    output: dict[str, Any]
    scores: list[dict[str, Any]]
    passed: bool
    tags: list[str]
    category: str | None
    finished_at: float

    def public(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "passed": self.passed, "output": self.output,
                "scores": self.scores, "tags": self.tags, "category": self.category,
                "finished_at": self.finished_at}

    def score(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.scores if s.get("name") == name), None)


class EvalRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def key_app(self, key: str) -> str | None:
        """The app a virtual key belongs to (None: not a virtual key, e.g. the master key):
        a run is owned by its key's tenant, and tenant admins read only their runs."""
        query = sa.select(api_keys.c.app_id).where(api_keys.c.key_hash == hash_key(key))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return str(row.app_id) if row is not None else None

    # --- datasets -------------------------------------------------------------------

    async def put_dataset(self, name: str, version: str, cases: list[dict[str, Any]], *,
                          tenant_id: str | None) -> bool:
        """Store a dataset version; False when that exact version was already there."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(eval_datasets.insert().values(
                    name=name, version=version, tenant_id=tenant_id, case_count=len(cases),
                    cases=cases, created_at=time.time()))
        except IntegrityError:
            return False
        return True

    async def datasets(self, *, tenant: str | None = None) -> list[DatasetRow]:
        columns = [c for c in eval_datasets.c if c.name != "cases"]
        query = sa.select(*columns).order_by(eval_datasets.c.name, eval_datasets.c.created_at)
        if tenant is not None:
            query = query.where(eval_datasets.c.tenant_id == tenant)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [DatasetRow(r.name, r.version, r.tenant_id, r.case_count, r.created_at)
                for r in rows]

    async def dataset(self, name: str, version: str | None = None) -> DatasetRow | None:
        """A version, or the newest one pushed."""
        query = sa.select(eval_datasets).where(eval_datasets.c.name == name)
        if version is not None:
            query = query.where(eval_datasets.c.version == version)
        query = query.order_by(eval_datasets.c.created_at.desc()).limit(1)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return DatasetRow(row.name, row.version, row.tenant_id, row.case_count, row.created_at,
                          list(row.cases))

    # --- runs -----------------------------------------------------------------------

    async def create_run(self, run: RunRow) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(eval_runs.insert().values(
                id=run.id, suite=run.suite, dataset=run.dataset,
                dataset_version=run.dataset_version, target=run.target, spec=run.spec,
                tenant_id=run.tenant_id, app_id=run.app_id, status=run.status,
                case_count=run.case_count, created_at=run.created_at,
                finished_at=run.finished_at))

    async def run(self, run_id: str, *, tenant: str | None = None) -> RunRow | None:
        query = sa.select(eval_runs).where(eval_runs.c.id == run_id)
        if tenant is not None:
            query = query.where(eval_runs.c.tenant_id == tenant)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _run(row) if row is not None else None

    async def runs(self, *, tenant: str | None = None, suite: str | None = None,
                   limit: int = 100) -> list[RunRow]:
        query = sa.select(eval_runs).order_by(eval_runs.c.created_at.desc()).limit(limit)
        if tenant is not None:
            query = query.where(eval_runs.c.tenant_id == tenant)
        if suite is not None:
            query = query.where(eval_runs.c.suite == suite)
        async with self._engine.connect() as conn:
            return [_run(r) for r in (await conn.execute(query)).all()]

    async def finish_run(self, run_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(eval_runs.update().where(eval_runs.c.id == run_id).values(
                status="finished", finished_at=time.time()))

    # --- results --------------------------------------------------------------------

    async def add_result(self, run_id: str, result: ResultRow) -> None:
        await self.add_results(run_id, [result])

    async def add_results(self, run_id: str, results: Sequence[ResultRow]) -> None:
        """Several results in one transaction: one writer, no lock contention with itself."""
        if not results:
            return
        async with self._engine.begin() as conn:
            await conn.execute(eval_results.insert(), [
                {"run_id": run_id, "case_id": r.case_id, "output": r.output, "scores": r.scores,
                 "passed": r.passed, "tags": r.tags, "category": r.category,
                 "finished_at": r.finished_at} for r in results])

    async def finished_cases(self, run_id: str) -> set[str]:
        query = sa.select(eval_results.c.case_id).where(eval_results.c.run_id == run_id)
        async with self._engine.connect() as conn:
            return {r.case_id for r in (await conn.execute(query)).all()}

    async def results(self, run_id: str) -> list[ResultRow]:
        query = (sa.select(eval_results).where(eval_results.c.run_id == run_id)
                 .order_by(eval_results.c.case_id))
        async with self._engine.connect() as conn:
            rows: Sequence[Any] = (await conn.execute(query)).all()
        return [ResultRow(r.case_id, dict(r.output), list(r.scores), bool(r.passed),
                          list(r.tags), r.category, r.finished_at) for r in rows]


def _run(row: Any) -> RunRow:
    return RunRow(row.id, row.suite, row.dataset, row.dataset_version, dict(row.target),
                  dict(row.spec), row.tenant_id, row.app_id, row.status, row.case_count,
                  row.created_at, row.finished_at)
