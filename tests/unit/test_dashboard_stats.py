"""Dashboard statistics: histogram percentiles, the rollups the ledger's write path keeps against the
raw ledger, budget forecasts, and the SVG charts."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

import pytest

from pavedroad.store.database import create_engine, migrate
from pavedroad.store.ledger import LedgerRepository
from pavedroad.store.ledger_stats import (
    BOUNDS,
    HOURLY_SPAN,
    LedgerFilter,
    LedgerStats,
    Plan,
    percentile,
    plan_for,
)
from pavedroad.store.schema import STATS_BINS, stats_daily, stats_hourly
from pavedroad.ui.charts import Series, _nice, bar_chart, line_chart
from pavedroad.ui.pages import forecast, table_of

MIGRATION = importlib.import_module("pavedroad.store.migrations.versions.0012_dashboard")


def test_histogram_bounds_agree_everywhere() -> None:
    assert tuple(MIGRATION.BOUNDS) == BOUNDS
    assert STATS_BINS == len(BOUNDS) + 1 == MIGRATION.BINS


def hist(**counts: int) -> list[int]:
    out = [0] * STATS_BINS
    for name, n in counts.items():
        out[int(name[1:])] = n
    return out


def test_percentile_interpolates_inside_a_bucket() -> None:
    # 100 requests in [100, 150) ms: the median sits halfway.
    assert percentile(hist(b7=100), 0.5) == 125.0
    assert percentile(hist(b0=50, b7=50), 0.5) == 5.0
    assert percentile(hist(b0=50, b7=50), 0.99) == pytest.approx(149.0)
    assert percentile(hist(), 0.5) is None


def test_plan_picks_rollups_unless_a_filter_needs_rows() -> None:
    day = 86400.0
    hourly = plan_for(LedgerFilter(since=10 * day + 100, until=10 * day + 3 * 3600), 600)
    assert hourly == Plan(stats_hourly, 10 * day, 3600)
    daily = plan_for(LedgerFilter(since=10 * day + 100, until=10 * day + HOURLY_SPAN + 101), 3600)
    assert daily.table is stats_daily and daily.since == 10 * day and daily.bucket == 86400
    raw = plan_for(LedgerFilter(since=5.0, until=99.0, status="error"), 7)
    assert raw == Plan(None, 5.0, 7)


def _record(i: int, at: float, **extra: Any) -> dict[str, Any]:
    return {"request_id": f"req_{i:04d}", "kind": "final", "started_at": at,
            "ended_at": at + 1, "tenant_id": f"t{i % 2}", "team_id": "tm", "app_id": f"a{i % 3}",
            "key_id": "k", "end_user": None, "model": "m" if i % 4 else "n", "deployment": "d",
            "route": "d:ok", "endpoint": "chat", "prompt_tokens": 3, "completion_tokens": 5,
            "cached_tokens": 0, "cache_write_tokens": 0, "cost_nanousd": 1000 * i,
            "usage_source": "provider", "latency_ms": 3.0 + i * 7, "ttft_ms": i * 2.0 or None,
            "outcome": "ok" if i % 5 else "upstream_error", "cache_hit": i % 6 == 0,
            "stream": True, "tags": {}, **extra}


async def test_rollups_match_the_raw_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    migrate(url)
    engine = create_engine(url)
    repo = LedgerRepository(engine)
    now = time.time()
    base = now - 30 * 3600
    # Streams first recorded in progress, then final: the rollups move by the difference.
    await repo.apply([_record(i, base + i * 500, outcome="in_progress", latency_ms=None)
                      for i in range(0, 200, 7)], writer="w", file="f", offset=1)
    await repo.apply([_record(i, base + i * 500) for i in range(200)], writer="w", file="f",
                     offset=2)
    await repo.apply([_record(999, now - 60, outcome="in_progress")], writer="w", file="f",
                     offset=3)
    stats = LedgerStats(engine)
    for by in (None, "app", "tenant", "model"):
        where = LedgerFilter(since=base - 3600, until=now + 1)
        grain = plan_for(where, 3600)
        assert grain.table is stats_hourly
        raw = Plan(None, grain.since, grain.bucket)
        rolled = sorted(await stats._rollup(where, grain, by), key=lambda r: (r["b"], str(r.get("group"))))
        direct = sorted(await stats._raw(where, raw, by), key=lambda r: (r["b"], str(r.get("group"))))
        assert len(rolled) == len(direct) > 0
        for a, b in zip(rolled, direct, strict=True):
            assert (a["requests"], a["errors"], a["cache_hits"], a["cost_nanousd"]) == \
                (b["requests"], b["errors"], b["cache_hits"], b["cost_nanousd"])
            assert a["lat"] == b["lat"] and a["ttft"] == b["ttft"]
    _, total = await stats.series(LedgerFilter(since=base - 3600, until=now + 1),
                                  bucket_seconds=10**9)
    assert sum(r["requests"] for r in total) == 200  # the one still in progress is not counted
    assert sum(r["errors"] for r in total) == 40
    await engine.dispose()


def test_forecast_of_a_budget_running_out() -> None:
    now = 1_700_000_000.0  # 2023-11-14 22:13 UTC: the month started 13.9 days earlier
    budget = {"period": "month", "amount": 100.0, "spent": 50.0, "reserved": 0.0}
    out = forecast(budget, now=now)
    days = (now - 1_698_796_800.0) / 86400
    assert out["burn_per_day"] == pytest.approx(50 / days)
    assert out["runs_out_at"] == pytest.approx(now + 50 / (50 / days) * 86400)
    slow = forecast({**budget, "spent": 1.0}, now=now)
    assert slow["runs_out_at"] is None  # lasts past the month's end
    assert forecast({**budget, "spent": 0.0}, now=now)["burn_per_day"] == 0


def test_charts_escape_labels_and_say_when_empty() -> None:
    chart = line_chart([Series("<script>", [(0.0, 1.0), (60.0, 3.0)])], start=0, end=60)
    assert "<script>" not in chart and "&lt;script&gt;" in chart
    assert "no requests" in line_chart([Series("x", [])], start=0, end=60)
    bars = bar_chart([("a", 3.0), ("b", 9.0)])
    assert bars.index(">b<") < bars.index(">a<")  # largest first
    assert _nice(0.0012) == 0.002 and _nice(7) == 10 and _nice(130) == 200


def test_table_of_an_unknown_answer() -> None:
    columns, rows = table_of({"data": [{"id": "r1", "score": 0.5, "nested": {"x": 1}}]})
    assert columns == ["id", "score", "nested"] and rows[0]["id"] == "r1"
    assert rows[0]["nested"] == '{"x":1}'  # nested values as compact JSON
    assert table_of({"nothing": 1}) == ([], [])
