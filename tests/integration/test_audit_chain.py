"""The audit hash chain in the store: tampering (edit, delete, reorder, insert) is named at
the first bad record; retention keeps the chain verifiable from its checkpoint; exports
carry a manifest that checks offline; concurrent writers keep one linear chain."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.audit.chain import canonical, record_hash, sha256
from pavedroad.audit.export import check_export, export
from pavedroad.audit.record import admin_record
from pavedroad.audit.trail import verify_chain
from pavedroad.store.audit import AuditRepository
from pavedroad.store.database import create_engine, migrate
from tests.support.services import PostgresServer

pytestmark = pytest.mark.timeout(60)
DAY = 86400.0


def record(n: int, *, tenant: str = "ten_a", days: float | None = 30,
           at: float | None = None) -> dict[str, Any]:
    made = admin_record(actor="cli", action="test", target=f"t{n}", before=None,
                        after={"n": n}, tenant_id=tenant, retention_days=days, now=at)
    return made


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[AuditRepository, AsyncEngine]]:
    url = f"sqlite:///{tmp_path}/audit.db"
    await asyncio.to_thread(migrate, url)
    engine = create_engine(url)
    yield AuditRepository(engine), engine
    await engine.dispose()


async def filled(repo: AuditRepository, count: int = 6) -> list[str]:
    records = [record(n) for n in range(count)]
    await repo.append(records[:2])
    for item in records[2:]:
        await repo.append([item])
    return [r["id"] for r in records]


async def sql(engine: AsyncEngine, statement: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text(statement), params)


async def stored(engine: AsyncEngine, seq: int) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.text("SELECT * FROM audit_records WHERE seq = :s"),
                                  {"s": seq})).mappings().one()
    return dict(row)


async def test_an_intact_chain_verifies(store: tuple[AuditRepository, AsyncEngine]) -> None:
    repo, _ = store
    await filled(repo)
    verdict = await verify_chain(repo)
    assert verdict.ok and verdict.checked == 6 and verdict.head_seq == 6


async def test_an_edited_record_is_named(store: tuple[AuditRepository, AsyncEngine]) -> None:
    repo, engine = store
    ids = await filled(repo)
    await sql(engine, "UPDATE audit_records SET content = replace(content, :a, :b) "
                      "WHERE seq = 4", a='"n":3', b='"n":99')
    verdict = await verify_chain(repo)
    assert not verdict.ok and verdict.bad_seq == 4 and verdict.bad_id == ids[3]
    assert "edited" in (verdict.reason or "")


async def test_an_edited_column_is_named(store: tuple[AuditRepository, AsyncEngine]) -> None:
    repo, engine = store
    await filled(repo)
    await sql(engine, "UPDATE audit_records SET tenant_id = 'ten_b' WHERE seq = 2")
    verdict = await verify_chain(repo)
    assert not verdict.ok and verdict.bad_seq == 2


async def test_a_rehashed_edit_breaks_the_next_link(
    store: tuple[AuditRepository, AsyncEngine],
) -> None:
    """An editor who recomputes the record's own hashes is caught by the record after it."""
    repo, engine = store
    ids = await filled(repo)
    row = await stored(engine, 3)
    body = orjson.loads(row["content"])
    body["after"] = {"n": 1000}
    content = canonical(body).decode()
    row.update(content=content, content_sha256=sha256(content.encode()))
    row["hash"] = record_hash(row)
    await sql(engine, "UPDATE audit_records SET content = :c, content_sha256 = :d, hash = :h "
                      "WHERE seq = 3", c=content, d=row["content_sha256"], h=row["hash"])
    verdict = await verify_chain(repo)
    assert not verdict.ok and verdict.bad_seq == 4 and verdict.bad_id == ids[3]
    assert "prev_hash" in (verdict.reason or "")


async def test_a_deleted_record_is_named(store: tuple[AuditRepository, AsyncEngine]) -> None:
    repo, engine = store
    ids = await filled(repo)
    await sql(engine, "DELETE FROM audit_records WHERE seq = 3")
    verdict = await verify_chain(repo)
    assert not verdict.ok and verdict.bad_seq == 4 and verdict.bad_id == ids[3]
    assert "expected record 3" in (verdict.reason or "")


async def test_a_deleted_tail_is_named(store: tuple[AuditRepository, AsyncEngine]) -> None:
    repo, engine = store
    await filled(repo)
    await sql(engine, "DELETE FROM audit_records WHERE seq >= 5")
    verdict = await verify_chain(repo)
    assert not verdict.ok and verdict.bad_seq == 5 and "missing" in (verdict.reason or "")


async def test_reordered_records_are_named(store: tuple[AuditRepository, AsyncEngine]) -> None:
    repo, engine = store
    ids = await filled(repo)
    await sql(engine, "UPDATE audit_records SET seq = 1000 WHERE seq = 3")
    await sql(engine, "UPDATE audit_records SET seq = 3 WHERE seq = 4")
    await sql(engine, "UPDATE audit_records SET seq = 4 WHERE seq = 1000")
    verdict = await verify_chain(repo)
    assert not verdict.ok and verdict.bad_seq == 3 and verdict.bad_id == ids[3]


async def test_an_inserted_record_is_named(store: tuple[AuditRepository, AsyncEngine]) -> None:
    repo, engine = store
    await filled(repo)
    await sql(engine, "UPDATE audit_records SET seq = seq + 1000 WHERE seq > 3")
    await sql(engine, "UPDATE audit_records SET seq = seq - 999 WHERE seq > 1000")
    forged = {**await stored(engine, 3), "seq": 4, "id": "aud_forged"}
    columns = ", ".join(forged)
    await sql(engine, f"INSERT INTO audit_records ({columns}) VALUES "
                      f"({', '.join(':' + c for c in forged)})", **forged)
    await sql(engine, "UPDATE audit_head SET seq = 7")
    verdict = await verify_chain(repo)
    assert not verdict.ok and verdict.bad_seq == 4 and verdict.bad_id == "aud_forged"


async def test_a_record_appended_behind_the_writers_back_is_named(
    store: tuple[AuditRepository, AsyncEngine],
) -> None:
    repo, engine = store
    await filled(repo)
    row = await stored(engine, 6)
    extra = {**row, "seq": 7, "id": "aud_extra", "prev_hash": row["hash"]}
    extra["hash"] = record_hash(extra)
    columns = ", ".join(extra)
    await sql(engine, f"INSERT INTO audit_records ({columns}) VALUES "
                      f"({', '.join(':' + c for c in extra)})", **extra)
    verdict = await verify_chain(repo)
    assert not verdict.ok and verdict.bad_seq == 7 and verdict.bad_id == "aud_extra"


async def test_retention_prunes_a_prefix_and_verify_starts_at_the_checkpoint(
    store: tuple[AuditRepository, AsyncEngine],
) -> None:
    repo, engine = store
    now = time.time()
    old = [record(n, days=1, at=now - 10 * DAY) for n in range(3)]
    kept = record(3, days=None, at=now - 10 * DAY)
    middle = record(4, days=2, at=now - 10 * DAY)  # expired, but behind a kept record
    fresh = [record(n, days=30) for n in range(5, 7)]
    await repo.append([*old, kept, middle, *fresh])
    dropped, deleted = await repo.prune(now, record={**record(99), "kind": "prune"})
    assert (dropped, deleted) == (4, 3)
    head = await repo.head()
    assert head["base_seq"] == 3
    verdict = await verify_chain(repo)
    assert verdict.ok and verdict.base_seq == 3 and verdict.pruned == 1
    assert verdict.checked == 5  # kept, middle (content dropped), two fresh, the prune record
    async with engine.connect() as conn:
        first = (await conn.execute(sa.text("SELECT MIN(seq) FROM audit_records"))).scalar()
    assert first == 4
    # Pruning again changes nothing and verification stays green.
    assert await repo.prune(now) == (0, 0)
    assert (await verify_chain(repo)).ok


async def test_content_dropped_before_its_retention_is_named(
    store: tuple[AuditRepository, AsyncEngine],
) -> None:
    repo, engine = store
    ids = await filled(repo)
    await sql(engine, "UPDATE audit_records SET content = NULL WHERE seq = 2")
    verdict = await verify_chain(repo)
    assert not verdict.ok and verdict.bad_id == ids[1] and "retention" in (verdict.reason or "")


async def test_pruning_does_not_hide_content_deleted_early(
    store: tuple[AuditRepository, AsyncEngine],
) -> None:
    repo, engine = store
    ids = await filled(repo)
    await sql(engine, "UPDATE audit_records SET content = NULL WHERE seq = 1")
    await repo.prune(time.time())
    verdict = await verify_chain(repo)
    assert not verdict.ok and verdict.bad_id == ids[0] and verdict.base_seq == 0


async def test_an_edited_checkpoint_is_named(
    store: tuple[AuditRepository, AsyncEngine],
) -> None:
    repo, engine = store
    now = time.time()
    await repo.append([record(n, days=1, at=now - 5 * DAY) for n in range(3)])
    await repo.append([record(n) for n in range(3, 5)])
    await repo.prune(now)
    await sql(engine, "DELETE FROM audit_records WHERE seq = 4")
    await sql(engine, "UPDATE audit_head SET base_seq = 4")  # hide the deletion
    verdict = await verify_chain(repo)
    assert not verdict.ok and "checkpoint" in (verdict.reason or "")


async def test_export_writes_jsonl_and_a_manifest_that_checks(
    store: tuple[AuditRepository, AsyncEngine], tmp_path: Path,
) -> None:
    repo, _ = store
    now = time.time()
    await repo.append([record(n, at=now - 3 * DAY) for n in range(2)])
    await repo.append([record(n, at=now - DAY) for n in range(2, 5)])
    done = await export(repo, tmp_path / "out", since=now - 2 * DAY, until=now)
    manifest = done.manifest
    assert manifest["count"] == 3 and (manifest["first_seq"], manifest["last_seq"]) == (3, 5)
    assert manifest["chain_head"] == {"seq": 5, "hash": (await repo.head())["hash"]}
    assert manifest["sha256"] == sha256(done.jsonl.read_bytes())
    assert check_export(tmp_path / "out") == []
    lines = done.jsonl.read_bytes().splitlines()
    lines[1] = lines[1].replace(b'\\"n\\":3', b'\\"n\\":4')
    done.jsonl.write_bytes(b"\n".join(lines) + b"\n")
    problems = check_export(tmp_path / "out")
    assert any("sha256" in p for p in problems) and any("record 4" in p for p in problems)


async def test_concurrent_writers_keep_one_linear_chain(tmp_path: Path) -> None:
    """Writers with engines of their own (like gateway processes) append at once."""
    url = f"sqlite:///{tmp_path}/audit.db"
    await asyncio.to_thread(migrate, url)
    engines = [create_engine(url) for _ in range(4)]
    try:
        repos = [AuditRepository(e) for e in engines]
        await asyncio.gather(*(repos[i % 4].append([record(i), record(i + 100)])
                               for i in range(40)))
        verdict = await verify_chain(repos[0])
        assert verdict.ok and verdict.checked == 80 and verdict.head_seq == 80
    finally:
        for engine in engines:
            await engine.dispose()


async def test_tampering_is_named_on_postgresql(postgres: PostgresServer) -> None:
    url = postgres.database(f"audit_{os.getpid()}_{int(time.time() * 1000)}")
    await asyncio.to_thread(migrate, url)
    engines = [create_engine(url) for _ in range(3)]
    try:
        repos = [AuditRepository(e) for e in engines]
        await asyncio.gather(*(repos[i % 3].append([record(i)]) for i in range(30)))
        assert (await verify_chain(repos[0])).ok
        ids = {r["seq"]: r["id"] async for r in repos[0].chain()}
        await sql(engines[0], "UPDATE audit_records SET content = replace(content, :a, :b) "
                              "WHERE seq = 7", a='"cli"', b='"mallory"')
        verdict = await verify_chain(repos[0])
        assert not verdict.ok and verdict.bad_seq == 7 and verdict.bad_id == ids[7]
        await sql(engines[0], "DELETE FROM audit_records WHERE seq = 7")
        verdict = await verify_chain(repos[0])
        assert not verdict.ok and verdict.bad_seq == 8 and verdict.bad_id == ids[8]
    finally:
        for engine in engines:
            await engine.dispose()
