"""The ledger's store side: exactly-once apply, rollups, crash replay, outages, reports.

Runs against a real SQLite file and a real PostgreSQL database, migrated with the
project's migrations.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.metering.flusher import LedgerFlusher
from pavedroad.metering.journal import JournalWriter, journal_files
from pavedroad.metering.metrics import MeteringMetrics
from pavedroad.metering.report import date_range, period_of, spend_report
from pavedroad.store.database import create_engine, migrate
from pavedroad.store.ledger import LedgerRepository
from pavedroad.store.schema import ledger_offsets, spend_daily, spend_daily_tags
from tests.support.services import PostgresServer

DAY1 = dt.datetime(2025, 3, 14, 12, tzinfo=dt.UTC).timestamp()  # a Friday
DAY2 = dt.datetime(2025, 3, 17, 9, tzinfo=dt.UTC).timestamp()  # the Monday after


def rec(rid: str, *, kind: str = "final", outcome: str = "ok", cost: int | None = 1000,
        started: float = DAY1, team: str = "team_a", tags: dict[str, str] | None = None,
        user: str | None = None, prompt: int = 10, completion: int = 5) -> dict[str, Any]:
    return {
        "kind": kind, "request_id": rid, "started_at": started,
        "ended_at": None if kind == "provisional" else started + 1,
        "tenant_id": "ten_a", "team_id": team, "app_id": "app_a", "key_id": "key_a",
        "end_user": user, "model": "m", "deployment": "d", "route": "d:ok", "endpoint": "chat",
        "prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": 0,
        "cache_write_tokens": 0, "cost_nanousd": cost, "usage_source": "provider",
        "latency_ms": 10.0, "ttft_ms": None, "outcome": outcome, "cache_hit": False,
        "stream": kind == "provisional", "tags": tags or {},
    }


def provisional(rid: str, **kw: Any) -> dict[str, Any]:
    return rec(rid, kind="provisional", outcome="in_progress", completion=0, **kw)


_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgres"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/ledger.db"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.database(f"ledger_{os.getpid()}_{next(_databases)}_{int(time.time())}")
    await asyncio.to_thread(migrate, url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


async def rollup(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(
            spend_daily.c.day, spend_daily.c.team_id, spend_daily.c.requests,
            spend_daily.c.completion_tokens, spend_daily.c.cost_nanousd,
            spend_daily.c.unpriced_requests).order_by(spend_daily.c.day, spend_daily.c.team_id))
        return [tuple(r) for r in rows]


async def tag_rollup(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(
            spend_daily_tags.c.day, spend_daily_tags.c.tag_key, spend_daily_tags.c.tag_value,
            spend_daily_tags.c.requests, spend_daily_tags.c.cost_nanousd).order_by(
            spend_daily_tags.c.day, spend_daily_tags.c.tag_key, spend_daily_tags.c.tag_value))
        return [tuple(r) for r in rows]


async def test_final_supersedes_provisional_and_replays_change_nothing(
    engine: AsyncEngine,
) -> None:
    repo = LedgerRepository(engine)
    first = [provisional("req_1"), rec("req_2", tags={"env": "prod"})]
    second = [rec("req_1", cost=3000, completion=7, tags={"env": "prod"})]
    assert await repo.apply(first, writer="jw_a", file="f1", offset=100) == 2
    row = await repo.row("req_1")
    assert row is not None and row["outcome"] == "in_progress"
    # A request still in progress is in the ledger but not yet in the rollups.
    assert await rollup(engine) == [("2025-03-14", "team_a", 1, 5, 1000, 0)]
    await repo.apply(second, writer="jw_a", file="f1", offset=200)
    expected = [("2025-03-14", "team_a", 2, 12, 4000, 0)]
    assert await rollup(engine) == expected
    assert await tag_rollup(engine) == [("2025-03-14", "env", "prod", 2, 4000)]
    # The whole journal again (a lost commit acknowledgement, say): nothing moves.
    assert await repo.apply(first + second, writer="jw_a", file="f1", offset=200) == 0
    assert await rollup(engine) == expected
    assert await tag_rollup(engine) == [("2025-03-14", "env", "prod", 2, 4000)]
    row = await repo.row("req_1")
    assert row is not None and row["outcome"] == "ok" and row["cost_nanousd"] == 3000
    assert await repo.offsets("jw_a") == {"f1": 200}


async def test_a_final_record_that_changes_moves_the_rollups_by_the_difference(
    engine: AsyncEngine,
) -> None:
    repo = LedgerRepository(engine)
    await repo.apply([rec("req_1", cost=1000)], writer="jw_a", file="f", offset=1)
    await repo.apply([rec("req_1", cost=None, outcome="upstream_error")], writer="jw_a",
                     file="f", offset=2)
    assert await rollup(engine) == [("2025-03-14", "team_a", 1, 5, 0, 1)]


async def test_unpriced_requests_are_counted_not_priced_at_zero(engine: AsyncEngine) -> None:
    repo = LedgerRepository(engine)
    await repo.apply([rec("req_1", cost=None), rec("req_2", cost=500)], writer="w", file="f",
                     offset=1)
    assert await rollup(engine) == [("2025-03-14", "team_a", 2, 10, 500, 1)]


async def test_reports_group_by_dimension_tag_and_user_per_period(engine: AsyncEngine) -> None:
    repo = LedgerRepository(engine)
    await repo.apply([
        rec("req_1", team="team_a", cost=1_000_000_000, tags={"feature": "search"}, user="ann"),
        rec("req_2", team="team_b", cost=250_000_000, tags={"feature": "chat"}, user="bob"),
        rec("req_3", team="team_a", cost=500_000_000, started=DAY2, user="ann"),
        rec("req_4", team="team_b", cost=None, started=DAY2, tags={"feature": "search"}),
        provisional("req_5", team="team_a"),
    ], writer="w", file="f", offset=1)
    names = {"team_a": "acme/a"}
    by_team = await spend_report(repo, by="team", period="month", first=dt.date(2025, 3, 1),
                                 last=dt.date(2025, 3, 31), names=names)
    assert [(ln["period"], ln["group"], ln["requests"], ln["cost_usd"], ln["unpriced_requests"])
            for ln in by_team.lines] == [("2025-03", "acme/a", 2, 1.5, 0),
                                         ("2025-03", "team_b", 2, 0.25, 1)]
    assert by_team.total()["cost_usd"] == 1.75 and by_team.total()["requests"] == 4
    by_week = await spend_report(repo, by="team", period="week", first=dt.date(2025, 3, 1),
                                 last=dt.date(2025, 3, 31))
    assert {(ln["period"], ln["group"]) for ln in by_week.lines} == {
        ("2025-W11", "team_a"), ("2025-W11", "team_b"), ("2025-W12", "team_a"),
        ("2025-W12", "team_b")}
    by_tag = await spend_report(repo, by="tag:feature", period="month",
                                first=dt.date(2025, 3, 1), last=dt.date(2025, 3, 31))
    assert [(ln["group"], ln["requests"], ln["cost_usd"]) for ln in by_tag.lines] == [
        ("search", 2, 1.0), ("(untagged)", 1, 0.5), ("chat", 1, 0.25)]
    by_user = await spend_report(repo, by="user", period="day", first=dt.date(2025, 3, 14),
                                 last=dt.date(2025, 3, 14))
    assert [(ln["group"], ln["requests"], ln["cost_usd"]) for ln in by_user.lines] == [
        ("ann", 1, 1.0), ("bob", 1, 0.25)]  # the provisional row is not spend yet


def test_periods_and_default_ranges() -> None:
    assert period_of("2025-03-14", "day") == "2025-03-14"
    assert period_of("2025-03-14", "week") == "2025-W11"
    assert period_of("2024-12-30", "week") == "2025-W01"  # ISO weeks cross years
    assert period_of("2025-03-14", "month") == "2025-03"
    today = dt.date(2025, 3, 14)
    assert date_range("month", None, None, today=today) == (dt.date(2025, 3, 1), today)
    assert date_range("week", None, None, today=today) == (dt.date(2025, 3, 10), today)
    assert date_range("day", None, None, today=today) == (today, today)


def write(writer: JournalWriter, records: Sequence[Mapping[str, Any]]) -> None:
    for record in records:
        writer.append(orjson.dumps(record) + b"\n")


def flusher_for(writer: JournalWriter, repo: LedgerRepository,
                metrics: MeteringMetrics | None = None) -> LedgerFlusher:
    return LedgerFlusher(writer, repo, metrics or MeteringMetrics(CollectorRegistry()),
                         interval=0.05, batch_records=7, orphan_scan_seconds=0)


async def test_flusher_applies_in_batches_and_deletes_rotated_files(
    engine: AsyncEngine, tmp_path: Path,
) -> None:
    repo = LedgerRepository(engine)
    writer = JournalWriter(tmp_path / "journal", rotate_bytes=4096)
    write(writer, [rec(f"req_{i:03d}") for i in range(40)])
    assert len(journal_files(writer.directory)) > 1
    flusher = flusher_for(writer, repo)
    assert await flusher.flush() == 40
    assert len(await repo.rows(limit=1000)) == 40
    assert [f.path for f in journal_files(writer.directory)] == [writer.path]
    assert await repo.offsets(writer.writer) == {writer.path.name: writer.path.stat().st_size}
    assert flusher.pending_bytes() == 0
    await flusher.stop()
    assert not list(writer.directory.iterdir())  # all flushed: journal and lock removed


async def test_a_crashed_writer_is_replayed_from_its_offset_exactly_once(
    engine: AsyncEngine, tmp_path: Path,
) -> None:
    repo = LedgerRepository(engine)
    directory = tmp_path / "journal"
    dead = JournalWriter(directory, rotate_bytes=1 << 20)
    write(dead, [rec("req_1"), rec("req_2"), provisional("req_3")])
    assert await flusher_for(dead, repo).flush() == 3
    write(dead, [rec("req_4"), provisional("req_5", prompt=40, cost=777), rec("req_3")])
    dead.lock.release()  # SIGKILL: the kernel drops the lock, the files stay

    survivor = JournalWriter(directory, rotate_bytes=1 << 20)
    flusher = flusher_for(survivor, repo)
    assert await flusher.flush() == 3  # only what the dead process had not flushed
    rows = {r["request_id"]: r for r in await repo.rows(limit=100)}
    assert set(rows) == {"req_1", "req_2", "req_3", "req_4", "req_5"}
    assert rows["req_3"]["outcome"] == "ok"
    assert rows["req_5"]["outcome"] == "interrupted"  # its final record never came
    assert rows["req_5"]["cost_nanousd"] == 777  # the estimate made when it started
    assert await rollup(engine) == [("2025-03-14", "team_a", 5, 20, 4777, 0)]
    assert journal_files(directory, dead.writer) == []
    assert not (directory / f"{dead.writer}.lock").exists()
    assert await repo.offsets(dead.writer) == {}
    assert await flusher.flush() == 0  # nothing left to adopt
    assert await rollup(engine) == [("2025-03-14", "team_a", 5, 20, 4777, 0)]
    await flusher.stop()


async def test_bad_and_torn_lines_are_skipped_and_counted(
    engine: AsyncEngine, tmp_path: Path,
) -> None:
    repo = LedgerRepository(engine)
    directory = tmp_path / "journal"
    dead = JournalWriter(directory, rotate_bytes=1 << 20)
    write(dead, [rec("req_1")])
    dead.append(b"not json\n")
    write(dead, [rec("req_2")])
    dead.append(b'{"request_id": "req_3", "sta')  # a power cut mid-write, without fsync
    dead.lock.release()
    registry = CollectorRegistry()
    flusher = flusher_for(JournalWriter(directory, rotate_bytes=1 << 20), repo,
                          MeteringMetrics(registry))
    assert await flusher.flush() == 2
    assert registry.get_sample_value("pavedroad_ledger_journal_errors_total") == 2
    assert journal_files(directory, dead.writer) == []
    await flusher.stop()


class FlakyRepository(LedgerRepository):
    down = True

    async def apply(self, records: Sequence[Mapping[str, Any]], *, writer: str, file: str,
                    offset: int) -> int:
        if self.down:
            raise OperationalError("INSERT", {}, Exception("database is unreachable"))
        return await super().apply(records, writer=writer, file=file, offset=offset)


async def test_an_unreachable_store_keeps_the_journal_and_is_retried(
    engine: AsyncEngine, tmp_path: Path,
) -> None:
    repo = FlakyRepository(engine)
    registry = CollectorRegistry()
    writer = JournalWriter(tmp_path / "journal", rotate_bytes=1 << 20)
    flusher = flusher_for(writer, repo, MeteringMetrics(registry))
    await flusher.start()
    write(writer, [rec(f"req_{i}") for i in range(10)])
    await asyncio.sleep(0.3)
    assert registry.get_sample_value("pavedroad_ledger_flush_failures_total") >= 2  # type: ignore[operator]
    assert flusher.pending_bytes() == writer.path.stat().st_size > 0
    repo.down = False
    for _ in range(100):
        if len(await repo.rows(limit=100)) == 10:
            break
        await asyncio.sleep(0.05)
    assert len(await repo.rows(limit=100)) == 10
    await flusher.stop()


async def test_stopping_while_the_store_is_down_keeps_the_journal_for_the_next_start(
    engine: AsyncEngine, tmp_path: Path,
) -> None:
    repo = FlakyRepository(engine)
    directory = tmp_path / "journal"
    writer = JournalWriter(directory, rotate_bytes=1 << 20)
    write(writer, [rec("req_1"), provisional("req_2")])
    await flusher_for(writer, repo).stop(grace=1)
    assert journal_files(directory, writer.writer)  # kept
    repo.down = False
    flusher = flusher_for(JournalWriter(directory, rotate_bytes=1 << 20), repo)
    assert await flusher.flush() == 2
    outcomes = {r["request_id"]: r["outcome"] for r in await repo.rows()}
    assert outcomes == {"req_1": "ok", "req_2": "interrupted"}
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(ledger_offsets)
                                   )).scalar() == 0  # the stopped writer's are gone
    await flusher.stop()
