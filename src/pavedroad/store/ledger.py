"""The spend ledger in the database: rows, daily rollups and journal offsets.

`apply` is the one write path. In a single transaction it upserts a batch of journal
records (a final record supersedes a provisional one; the same record twice changes
nothing), moves the rollups by exactly the difference each row makes, and stores how far
into its journal file the batch reached. Either all of that commits or none of it, which
is what makes replaying a journal exactly-once (docs/adr/0007).
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pavedroad.store.schema import (
    SPEND_COUNTERS,
    STATS_BINS,
    STATS_BOUNDS,
    STATS_COUNTERS,
    ledger,
    ledger_offsets,
    spend_daily,
    spend_daily_tags,
    stats_daily,
    stats_hourly,
)

IN_PROGRESS, INTERRUPTED = "in_progress", "interrupted"
ROW_COLUMNS = tuple(c.name for c in ledger.columns)
DIMENSIONS = {"tenant": "tenant_id", "team": "team_id", "app": "app_id", "key": "key_id",
              "model": "model", "deployment": "deployment"}
_IN_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit

Vector = tuple[int, ...]
# (table kind, primary key values): "daily" and "tags" for spend, "hourly" and "stats_daily"
# for the dashboard's request statistics.
RollupKey = tuple[str, tuple[Any, ...]]
_ROLLUPS: dict[str, tuple[sa.Table, tuple[str, ...]]] = {
    "daily": (spend_daily, SPEND_COUNTERS), "tags": (spend_daily_tags, SPEND_COUNTERS),
    "hourly": (stats_hourly, STATS_COUNTERS), "stats_daily": (stats_daily, STATS_COUNTERS)}


def day_of(stamp: float) -> str:
    """The UTC day of a Unix time, `YYYY-MM-DD`."""
    return _day(int(stamp // 86400))


@functools.lru_cache(maxsize=64)
def _day(index: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=index)).isoformat()


def row_of(record: Mapping[str, Any], writer: str) -> dict[str, Any]:
    """A journal record as a ledger row."""
    row = {name: record.get(name) for name in ROW_COLUMNS}
    row["day"] = day_of(float(record["started_at"]))
    row["writer"] = writer
    row["tags"] = dict(record.get("tags") or {})
    row["route"] = row["route"] or ""
    return row


Sparse = tuple[int, tuple[tuple[int, int], ...]]  # a vector's width, its non-zero entries


def _contributions(row: Mapping[str, Any]) -> list[tuple[RollupKey, Sparse]]:
    """What one row adds to the rollups. A request still in progress adds nothing yet."""
    if row["outcome"] == IN_PROGRESS:
        return []
    cost = row["cost_nanousd"]
    spend: Sparse = (len(SPEND_COUNTERS), tuple(enumerate((
        1, row["prompt_tokens"], row["completion_tokens"], row["cached_tokens"],
        row["cache_write_tokens"], cost or 0, 1 if cost is None else 0))))
    daily = (row["day"], row["tenant_id"] or "", row["team_id"] or "", row["app_id"] or "",
             row["key_id"] or "", row["model"], row["deployment"] or "")
    out: list[tuple[RollupKey, Sparse]] = [(("daily", daily), spend)]
    for key, value in sorted((row["tags"] or {}).items()):
        out.append((("tags", (row["day"], key, value)), spend))
    stats = _stats_vector(row)
    owners = (row["tenant_id"] or "", row["team_id"] or "", row["app_id"] or "",
              row["key_id"] or "", row["model"] or "", row["deployment"] or "")
    started = float(row["started_at"])
    for kind, grain in (("hourly", 3600), ("stats_daily", 86400)):
        out.append(((kind, (int(started // grain) * grain, *owners)), stats))
    return out


def _bin(ms: float | None) -> int | None:
    """The histogram bucket of a duration: the first bound it is under (None: unknown)."""
    if ms is None:
        return None
    for i, bound in enumerate(STATS_BOUNDS):
        if ms < bound:
            return i
    return len(STATS_BOUNDS)


def _stats_vector(row: Mapping[str, Any]) -> Sparse:
    """Requests, errors, cache hits, cost, then one latency and one TTFT histogram bucket."""
    entries = [(0, 1), (1, int(row["outcome"] != "ok")), (2, int(bool(row["cache_hit"]))),
               (3, row["cost_nanousd"] or 0)]
    latency, ttft = _bin(row["latency_ms"]), _bin(row["ttft_ms"])
    if latency is not None:
        entries.append((4 + latency, 1))
    if ttft is not None:
        entries.append((4 + STATS_BINS + ttft, 1))
    return len(STATS_COUNTERS), tuple(entries)


def rollup_deltas(
    changes: Iterable[tuple[Mapping[str, Any] | None, Mapping[str, Any]]],
) -> dict[RollupKey, Vector]:
    """(old row or None, new row) pairs -> the non-zero change of every rollup row."""
    deltas: dict[RollupKey, list[int]] = {}
    for old, new in changes:
        for sign, row in ((-1, old), (1, new)):
            if row is None:
                continue
            for key, (width, entries) in _contributions(row):
                acc = deltas.get(key)
                if acc is None:
                    acc = deltas[key] = [0] * width
                for i, value in entries:
                    acc[i] += sign * value
    return {k: tuple(v) for k, v in deltas.items() if any(v)}


def _plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    # Column names come back as `quoted_name`, a str subclass JSON encoders may refuse.
    return {str(key): value for key, value in row.items()}


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL alike)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


@functools.cache
def _row_upsert(dialect: str) -> Any:
    """The ledger row upsert, built once per dialect (see `_rollup_upsert`)."""
    stmt = (postgresql if dialect == "postgresql" else sqlite).insert(ledger)
    return stmt.on_conflict_do_update(
        index_elements=[ledger.c.request_id],
        set_={name: stmt.excluded[name] for name in ROW_COLUMNS if name != "request_id"})


@functools.cache
def _rollup_upsert(kind: str, dialect: str) -> Any:
    """`INSERT … ON CONFLICT DO UPDATE SET counter = counter + excluded.counter`, built once
    per table and dialect: with the statistics' 52 counters, building it every flush cost
    more than running it."""
    table, counters = _ROLLUPS[kind]
    stmt = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={name: table.c[name] + stmt.excluded[name] for name in counters})


def _supersedes(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """A provisional record never overwrites a final one (a replayed journal, say)."""
    return old is None or new["outcome"] != IN_PROGRESS or old["outcome"] == IN_PROGRESS


class LedgerRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def offsets(self, writer: str) -> dict[str, int]:
        """How far each journal file of `writer` has been applied."""
        query = sa.select(ledger_offsets.c.file, ledger_offsets.c.offset).where(
            ledger_offsets.c.writer == writer)
        async with self._engine.connect() as conn:
            return {r.file: int(r.offset) for r in (await conn.execute(query)).all()}

    async def apply(
        self, records: Sequence[Mapping[str, Any]], *, writer: str, file: str, offset: int
    ) -> int:
        """Upsert journal records of `writer` read up to `offset` of `file`; one transaction.
        Returns how many rows changed."""
        latest: dict[str, dict[str, Any]] = {}
        for record in records:
            row = row_of(record, writer)
            previous = latest.get(row["request_id"])
            if previous is None or _supersedes(row, previous):
                latest[row["request_id"]] = row
        async with self._engine.begin() as conn:
            existing = await self._existing(conn, list(latest))
            changes = [(existing.get(rid), row) for rid, row in latest.items()
                       if _supersedes(row, existing.get(rid)) and existing.get(rid) != row]
            if changes:
                await self._upsert_rows(conn, [new for _, new in changes])
                await self._bump(conn, rollup_deltas(changes))
            await self._store_offset(conn, writer, file, offset)
        return len(changes)

    async def close_writer(self, writer: str) -> int:
        """A writer's journal is fully applied and it is gone: its streams that never got
        a final record are `interrupted` (and now count, at their estimated cost); its
        offsets are dropped. Idempotent. Returns how many rows were interrupted."""
        async with self._engine.begin() as conn:
            rows = (await conn.execute(sa.select(ledger).where(
                ledger.c.writer == writer, ledger.c.outcome == IN_PROGRESS))).mappings().all()
            changes = [(_plain(r), {**_plain(r), "outcome": INTERRUPTED}) for r in rows]
            if changes:
                await conn.execute(
                    ledger.update().where(ledger.c.writer == writer,
                                          ledger.c.outcome == IN_PROGRESS)
                    .values(outcome=INTERRUPTED))
                await self._bump(conn, rollup_deltas(changes))
            await conn.execute(ledger_offsets.delete().where(ledger_offsets.c.writer == writer))
        return len(changes)

    async def forget_file(self, writer: str, file: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(ledger_offsets.delete().where(
                ledger_offsets.c.writer == writer, ledger_offsets.c.file == file))

    async def _existing(self, conn: AsyncConnection, ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), _IN_CHUNK):
            query = sa.select(ledger).where(ledger.c.request_id.in_(ids[i:i + _IN_CHUNK]))
            for row in (await conn.execute(query)).mappings():
                found[row["request_id"]] = _plain(row)
        return found

    async def _upsert_rows(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        await conn.execute(_row_upsert(conn.dialect.name), rows)

    async def _bump(self, conn: AsyncConnection, deltas: Mapping[RollupKey, Vector]) -> None:
        """Move every rollup row by its delta: one multi-row upsert per table, however many
        ledger rows the batch held (cheaper than a trigger per row)."""
        by_table: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _ROLLUPS}
        for (kind, key), vector in deltas.items():
            table, counters = _ROLLUPS[kind]
            names = [c.name for c in table.primary_key.columns]
            by_table[kind].append({**dict(zip(names, key, strict=True)),
                                   **dict(zip(counters, vector, strict=True))})
        for kind, values in by_table.items():
            if values:
                await conn.execute(_rollup_upsert(kind, conn.dialect.name), values)

    async def _store_offset(self, conn: AsyncConnection, writer: str, file: str,
                            offset: int) -> None:
        stmt = _insert(conn, ledger_offsets).values(writer=writer, file=file, offset=offset,
                                                    updated_at=time.time())
        stmt = stmt.on_conflict_do_update(
            index_elements=[ledger_offsets.c.writer, ledger_offsets.c.file],
            set_={"offset": stmt.excluded.offset, "updated_at": stmt.excluded.updated_at})
        await conn.execute(stmt)

    # --- reading ---------------------------------------------------------------------

    async def rows(self, *, after: str | None = None, limit: int = 100,
                   tenant: str | None = None) -> list[dict[str, Any]]:
        """Raw ledger rows in request-id (time) order, after the given request id (of
        `tenant` only, when given)."""
        query = sa.select(ledger).order_by(ledger.c.request_id).limit(limit)
        if after:
            query = query.where(ledger.c.request_id > after)
        if tenant is not None:
            query = query.where(ledger.c.tenant_id == tenant)
        async with self._engine.connect() as conn:
            return [_plain(r) for r in (await conn.execute(query)).mappings()]

    async def row(self, request_id: str) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            found = (await conn.execute(sa.select(ledger).where(
                ledger.c.request_id == request_id))).mappings().first()
        return _plain(found) if found is not None else None

    async def daily(self, dimension: str, first: str, last: str, *,
                    tenant: str | None = None) -> list[dict[str, Any]]:
        """Rollup sums per day and `dimension` (a DIMENSIONS key) between two UTC days."""
        column = spend_daily.c[DIMENSIONS[dimension]]
        where: sa.ColumnElement[bool] = spend_daily.c.day.between(first, last)
        if tenant is not None:
            where = sa.and_(where, spend_daily.c.tenant_id == tenant)
        return await self._grouped(spend_daily, column, where)

    async def daily_totals(self, first: str, last: str) -> list[dict[str, Any]]:
        return await self._grouped(spend_daily, None, spend_daily.c.day.between(first, last))

    async def daily_tag(self, tag: str, first: str, last: str) -> list[dict[str, Any]]:
        table = spend_daily_tags
        return await self._grouped(table, table.c.tag_value,
                                   sa.and_(table.c.tag_key == tag, table.c.day.between(first, last)))

    async def daily_users(self, first: str, last: str, *,
                          tenant: str | None = None) -> list[dict[str, Any]]:
        """Per end user, straight from the ledger (no rollup keeps users)."""
        c = ledger.c
        sums = [sa.func.count().label("requests"),
                *(sa.func.coalesce(sa.func.sum(c[n]), 0).label(n)
                  for n in SPEND_COUNTERS[1:6]),
                sa.func.sum(sa.case((c.cost_nanousd.is_(None), 1), else_=0))
                .label("unpriced_requests")]
        query = (sa.select(c.day, c.end_user.label("group"), *sums)
                 .where(c.day.between(first, last), c.outcome != IN_PROGRESS,
                        *([c.tenant_id == tenant] if tenant is not None else []))
                 .group_by(c.day, c.end_user))
        async with self._engine.connect() as conn:
            return [_plain(r) for r in (await conn.execute(query)).mappings()]

    async def _grouped(self, table: sa.Table, column: sa.ColumnElement[Any] | None,
                       where: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
        sums = [sa.func.sum(table.c[name]).label(name) for name in SPEND_COUNTERS]
        keys: list[Any] = [table.c.day]
        if column is not None:
            keys.append(column.label("group"))
        query = sa.select(*keys, *sums).where(where).group_by(*keys)
        async with self._engine.connect() as conn:
            return [_plain(r) for r in (await conn.execute(query)).mappings()]
