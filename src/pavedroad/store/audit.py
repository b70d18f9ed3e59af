"""The audit trail in the database: the hash chain, its head and the journal offsets.

Every write to the chain happens in one transaction that first takes the head row's lock
(a row lock on PostgreSQL, the write lock on SQLite), reads where the chain ends, and
appends after it. Whoever holds that lock is the chain's single writer for that moment,
so gateways, flushers and the CLI keep one linear chain (docs/adr/0012).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pavedroad.audit.chain import GENESIS, canonical, checkpoint_hash, record_hash, sha256
from pavedroad.store.ledger import _insert
from pavedroad.store.schema import audit_head, audit_offsets, audit_pending, audit_records

ANSWERING = "answering"  # the `phase` of a stream's provisional record
HEAD_ID = 1
_PAGE = 1000


def _plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(key): value for key, value in row.items()}


def public(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored record as readers see it: its content, plus where it sits in the chain."""
    content = row["content"]
    body: dict[str, Any] = orjson.loads(content) if content is not None else {
        name: row[name] for name in ("id", "kind", "at", "tenant_id", "app_id", "retain_until")}
    return {**body, "seq": row["seq"], "hash": row["hash"], "prev_hash": row["prev_hash"],
            "pruned": content is None}


class AuditRepository:
    def __init__(self, engine: AsyncEngine, *, key: bytes | None = None) -> None:
        self._engine = engine
        self.key = key  # `audit.hmac_key`: every hash of the chain is an HMAC with it

    # --- the flusher's side (the same interface as the ledger's) ----------------------

    async def offsets(self, writer: str) -> dict[str, int]:
        query = sa.select(audit_offsets.c.file, audit_offsets.c.offset).where(
            audit_offsets.c.writer == writer)
        async with self._engine.connect() as conn:
            return {r.file: int(r.offset) for r in (await conn.execute(query)).all()}

    async def apply(self, records: Sequence[Mapping[str, Any]], *, writer: str, file: str,
                    offset: int) -> int:
        """Chain a batch of journal records and store the offset, in one transaction.
        A stream's provisional record waits in `audit_pending` until its final one."""
        finals: list[dict[str, Any]] = []
        provisional: dict[str, dict[str, Any]] = {}
        for record in records:
            if record.get("phase") == ANSWERING:
                provisional[record["id"]] = dict(record)
            else:
                provisional.pop(record["id"], None)
                finals.append(dict(record))
        async with self._engine.begin() as conn:
            head = await self._lock_head(conn)
            done = await self._chained(conn, [*provisional, *(r["id"] for r in finals)])
            if finals:
                await conn.execute(audit_pending.delete().where(
                    audit_pending.c.id.in_([r["id"] for r in finals])))
            waiting = [{"id": rid, "writer": writer, "record": rec}
                       for rid, rec in provisional.items() if rid not in done]
            if waiting:
                stmt = _insert(conn, audit_pending).on_conflict_do_nothing()
                await conn.execute(stmt, waiting)
            added = await self._append(conn, head, [r for r in finals if r["id"] not in done])
            stmt = _insert(conn, audit_offsets).values(writer=writer, file=file, offset=offset,
                                                       updated_at=time.time())
            await conn.execute(stmt.on_conflict_do_update(
                index_elements=[audit_offsets.c.writer, audit_offsets.c.file],
                set_={"offset": stmt.excluded.offset, "updated_at": stmt.excluded.updated_at}))
        return added

    async def close_writer(self, writer: str) -> int:
        """A writer is gone: its streams with no final record are chained `interrupted`."""
        async with self._engine.begin() as conn:
            head = await self._lock_head(conn)
            rows = (await conn.execute(sa.select(audit_pending.c.record).where(
                audit_pending.c.writer == writer).order_by(audit_pending.c.id))).all()
            records = []
            for row in rows:
                record = {k: v for k, v in dict(row.record).items() if k != "phase"}
                records.append({**record, "outcome": "interrupted"})
            done = await self._chained(conn, [r["id"] for r in records])
            added = await self._append(conn, head, [r for r in records if r["id"] not in done])
            await conn.execute(audit_pending.delete().where(audit_pending.c.writer == writer))
            await conn.execute(audit_offsets.delete().where(audit_offsets.c.writer == writer))
        return added

    async def forget_file(self, writer: str, file: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(audit_offsets.delete().where(
                audit_offsets.c.writer == writer, audit_offsets.c.file == file))

    # --- writing -------------------------------------------------------------------

    async def append(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Chain records at once (admin actions: committed before the call returns)."""
        async with self._engine.begin() as conn:
            head = await self._lock_head(conn)
            return await self._append(conn, head, [dict(r) for r in records])

    async def _lock_head(self, conn: AsyncConnection) -> dict[str, Any]:
        now = time.time()
        await conn.execute(_insert(conn, audit_head).values(
            id=HEAD_ID, seq=0, hash=GENESIS, base_seq=0, base_hash=GENESIS,
            checkpoint_hash=checkpoint_hash(0, GENESIS, self.key), updated_at=now,
        ).on_conflict_do_nothing())
        row = (await conn.execute(sa.select(audit_head).where(audit_head.c.id == HEAD_ID)
                                  .with_for_update())).mappings().one()
        return _plain(row)

    async def _chained(self, conn: AsyncConnection, ids: list[str]) -> set[str]:
        """Which of these ids are already in the chain (a replayed journal)."""
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            query = sa.select(audit_records.c.id).where(audit_records.c.id.in_(ids[i:i + 500]))
            found.update(r.id for r in (await conn.execute(query)).all())
        return found

    async def _append(self, conn: AsyncConnection, head: dict[str, Any],
                      records: list[dict[str, Any]]) -> int:
        seq, prev = int(head["seq"]), str(head["hash"])
        rows, seen = [], set()
        for record in records:
            if record["id"] in seen:
                continue
            seen.add(record["id"])
            seq += 1
            content = canonical(record).decode()
            row = {"seq": seq, "prev_hash": prev, "id": record["id"], "kind": record["kind"],
                   "at": record["at"], "tenant_id": record.get("tenant_id"),
                   "app_id": record.get("app_id"), "retain_until": record.get("retain_until"),
                   "content": content, "content_sha256": sha256(content.encode())}
            row["hash"] = prev = record_hash(row, self.key)
            rows.append(row)
        if rows:
            await conn.execute(audit_records.insert(), rows)
            await conn.execute(audit_head.update().where(audit_head.c.id == HEAD_ID).values(
                seq=seq, hash=prev, updated_at=time.time()))
            head.update(seq=seq, hash=prev)
        return len(rows)

    # --- retention -------------------------------------------------------------------

    async def prune(self, now: float, *, record: Mapping[str, Any] | None = None,
                    ) -> tuple[int, int]:
        """Drop the content of records past their retention (their hashes stay), then
        delete the leading run of such records and move the checkpoint past them.
        Returns (contents dropped, records deleted). `record` (the prune's own audit
        record) is chained when anything changed."""
        c = audit_records.c
        async with self._engine.begin() as conn:
            head = await self._lock_head(conn)
            dropped = (await conn.execute(audit_records.update().where(
                c.retain_until <= now, c.content.is_not(None)).values(content=None))).rowcount
            # The first record that must stay: it has content, or its retention has not
            # ended (content missing early is tampering, and stays for verify to name).
            keep = (await conn.execute(sa.select(sa.func.min(c.seq)).where(sa.or_(
                c.content.is_not(None), c.retain_until.is_(None),
                c.retain_until > now)))).scalar()
            cut = (await conn.execute(sa.select(c.seq, c.hash).where(
                c.seq < keep if keep is not None else sa.true())
                .order_by(c.seq.desc()).limit(1))).first()
            deleted = 0
            if cut is not None:
                deleted = (await conn.execute(audit_records.delete().where(
                    c.seq <= cut.seq))).rowcount
                await conn.execute(audit_head.update().where(audit_head.c.id == HEAD_ID).values(
                    base_seq=cut.seq, base_hash=cut.hash,
                    checkpoint_hash=checkpoint_hash(int(cut.seq), cut.hash, self.key),
                    updated_at=now))
            if (dropped or deleted) and record is not None:
                await self._append(conn, head, [{**record, "dropped": dropped,
                                                 "deleted": deleted}])
        return dropped, deleted

    # --- reading ---------------------------------------------------------------------

    async def head(self) -> dict[str, Any]:
        async with self._engine.begin() as conn:
            return await self._lock_head(conn)

    async def chain(self, *, first: int = 0, last: int | None = None,
                    ) -> AsyncIterator[dict[str, Any]]:
        """Stored rows in seq order, a page at a time."""
        after = first - 1
        while True:
            query = sa.select(audit_records).where(audit_records.c.seq > after)
            if last is not None:
                query = query.where(audit_records.c.seq <= last)
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query.order_by(audit_records.c.seq)
                                           .limit(_PAGE))).mappings().all()
            for row in rows:
                yield _plain(row)
            if len(rows) < _PAGE:
                return
            after = int(rows[-1]["seq"])

    async def find(self, *, since: float | None = None, until: float | None = None,
                   tenant: str | None = None, app: str | None = None, after: int | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        c = audit_records.c
        conditions: list[sa.ColumnElement[bool]] = []
        if since is not None:
            conditions.append(c.at >= since)
        if until is not None:
            conditions.append(c.at < until)
        if tenant is not None:
            conditions.append(c.tenant_id == tenant)
        if app is not None:
            conditions.append(c.app_id == app)
        if after is not None:
            conditions.append(c.seq > after)
        query = sa.select(audit_records).where(*conditions).order_by(c.seq).limit(limit)
        async with self._engine.connect() as conn:
            return [_plain(r) for r in (await conn.execute(query)).mappings()]
