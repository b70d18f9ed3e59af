"""The dashboard's rollups on PostgreSQL: the ledger's write path keeps them equal
to the raw ledger through the ledger's real write path (upserts, in-progress then final)."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from pavedroad.store.database import create_engine, migrate
from pavedroad.store.ledger import LedgerRepository
from pavedroad.store.ledger_stats import LedgerFilter, LedgerStats, Plan, plan_for
from pavedroad.store.schema import stats_daily
from tests.support.services import PostgresServer

pytestmark = pytest.mark.timeout(90)


def record(i: int, at: float, **extra: Any) -> dict[str, Any]:
    return {"request_id": f"req_pg{i:04d}", "kind": "final", "started_at": at,
            "ended_at": at + 1, "tenant_id": f"t{i % 2}", "team_id": None, "app_id": f"a{i % 3}",
            "key_id": "k", "end_user": None, "model": "m", "deployment": "d", "route": "d:ok",
            "endpoint": "chat", "prompt_tokens": 1, "completion_tokens": 2, "cached_tokens": 0,
            "cache_write_tokens": 0, "cost_nanousd": 10 * i, "usage_source": "provider",
            "latency_ms": 1.0 + i * 13, "ttft_ms": None if i % 2 else i * 1.5,
            "outcome": "ok" if i % 4 else "timeout", "cache_hit": i % 5 == 0, "stream": False,
            "tags": {}, **extra}


async def test_rollups_match_the_ledger_on_postgresql(postgres: PostgresServer) -> None:
    url = postgres.database(f"dash_{os.getpid()}_{int(time.time() * 1000)}")
    migrate(url)
    engine = create_engine(url)
    assert engine.dialect.name == "postgresql"
    repo = LedgerRepository(engine)
    now = time.time()
    base = now - 5 * 86400
    await repo.apply([record(i, base + i * 3000, outcome="in_progress") for i in range(0, 120, 5)],
                     writer="w", file="f", offset=1)
    await repo.apply([record(i, base + i * 3000) for i in range(120)], writer="w", file="f",
                     offset=2)
    stats = LedgerStats(engine)
    where = LedgerFilter(since=base - 60, until=now + 1)
    plan = plan_for(where, 86400)
    assert plan.table is stats_daily
    for by in (None, "tenant", "app"):
        rolled = await stats._rollup(where, plan, by)
        direct = await stats._raw(where, Plan(None, plan.since, plan.bucket), by)
        key = lambda r: (int(r["b"]), str(r.get("group") or ""))  # noqa: E731
        rolled.sort(key=key)
        direct.sort(key=key)
        assert [key(r) for r in rolled] == [key(r) for r in direct]
        for a, b in zip(rolled, direct, strict=True):
            assert (int(a["requests"]), int(a["errors"]), int(a["cache_hits"]),
                    int(a["cost_nanousd"])) == (int(b["requests"]), int(b["errors"]),
                                                int(b["cache_hits"]), int(b["cost_nanousd"]))
            assert a["ttft"] == b["ttft"] and a["lat"] == b["lat"]
    _, series = await stats.series(LedgerFilter(since=now - 3600 * 20, until=now + 1),
                                   bucket_seconds=3600)
    assert sum(r["requests"] for r in series) == sum(
        1 for i in range(120) if base + i * 3000 >= int((now - 3600 * 20) // 3600) * 3600)
    await engine.dispose()
