"""Dashboard reads of the ledger: aggregates over a time range and a filtered request list.

Every aggregate reads one time range through `ix_ledger_started_cover` (migration 0012),
so it never touches the table rows. Percentiles come from a latency histogram counted in
SQL (fixed bucket bounds, linear inside a bucket): exact enough for a chart, and the cost
is one indexed scan whatever the row count, not a sort of every latency (ADR 0019).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.store.audit import public
from pavedroad.store.ledger import DIMENSIONS, IN_PROGRESS
from pavedroad.store.schema import (
    STATS_BINS,
    STATS_BOUNDS,
    STATS_COUNTERS,
    audit_records,
    ledger,
    stats_daily,
    stats_hourly,
)

BOUNDS = STATS_BOUNDS  # upper bounds (ms) of the histogram buckets; the last is open-ended
QUANTILES = (0.5, 0.95, 0.99)
EXPLORER_COLUMNS = ("request_id", "started_at", "tenant_id", "team_id", "app_id", "key_id",
                    "model", "deployment", "route", "endpoint", "prompt_tokens",
                    "completion_tokens", "cost_nanousd", "latency_ms", "ttft_ms", "outcome",
                    "cache_hit", "stream", "tags")
DETAIL_COLUMNS = (*EXPLORER_COLUMNS, "ended_at", "end_user", "cached_tokens",
                  "cache_write_tokens", "usage_source")
FINDINGS_SCAN = 5000  # audit records read at most to count findings by category
HOURLY_SPAN = 2 * 86400  # longer ranges read the daily rollup
ATTEMPTS_SCAN = 10000  # newest requests read at most for per-deployment attempt outcomes
# Route outcomes of a deployment that was passed over, not called.
SKIPPED = frozenset({"disabled", "circuit_open", "policy_denied"})


@dataclass(slots=True, frozen=True)
class LedgerFilter:
    """Which ledger rows a dashboard read covers. Equality filters; None: any."""

    since: float
    until: float
    tenant: str | None = None
    app: str | None = None
    key: str | None = None
    model: str | None = None
    deployment: str | None = None
    status: str | None = None  # ok | error | an exact outcome code
    route: str | None = None  # a deployment named anywhere in the route taken
    tags: Mapping[str, str] = field(default_factory=dict)

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        c = ledger.c
        out: list[sa.ColumnElement[bool]] = [c.started_at >= self.since, c.started_at < self.until,
                                             c.outcome != IN_PROGRESS]
        for column, value in ((c.tenant_id, self.tenant), (c.app_id, self.app),
                              (c.key_id, self.key), (c.model, self.model),
                              (c.deployment, self.deployment)):
            if value is not None:
                out.append(column == value)
        if self.status == "error":
            out.append(c.outcome != "ok")
        elif self.status is not None:
            out.append(c.outcome == self.status)
        if self.route is not None:
            out.append(c.route.contains(self.route, autoescape=True))
        for key, value in self.tags.items():
            out.append(c.tags[key].as_string() == value)
        return out


def _bin(column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """The histogram bucket of a latency column; -1 when it has none."""
    whens: list[tuple[sa.ColumnElement[bool], int]] = [(column.is_(None), -1)]
    whens += [(column < bound, i) for i, bound in enumerate(BOUNDS)]
    return sa.case(*whens, else_=len(BOUNDS))


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """The q-quantile (0..1) of a histogram (count per BOUNDS bucket), linear inside its
    bucket."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for bucket, count in enumerate(histogram):
        if count and seen + count >= rank:
            low = BOUNDS[bucket - 1] if bucket > 0 else 0.0
            high = BOUNDS[bucket] if bucket < len(BOUNDS) else BOUNDS[-1] * 2
            return round(low + (high - low) * ((rank - seen) / count), 1)
        seen += count
    return float(BOUNDS[-1] * 2)


def quantiles(histogram: Sequence[int]) -> dict[str, float | None]:
    return {f"p{round(q * 100)}": percentile(histogram, q) for q in QUANTILES}


@dataclass(slots=True, frozen=True)
class Plan:
    """How a series is read: from a rollup table (None: the raw ledger), with buckets of
    `bucket` seconds starting at `since`."""

    table: sa.Table | None
    since: float
    bucket: int


def plan_for(where: LedgerFilter, bucket_seconds: int) -> Plan:
    """Rollups unless a filter needs the raw rows; hourly up to two days, daily beyond.
    A rollup's range starts at the hour or day that holds `since`."""
    if where.status is not None or where.route is not None or where.tags:
        return Plan(None, where.since, bucket_seconds)
    grain = 3600 if where.until - where.since <= HOURLY_SPAN else 86400
    since = float(int(where.since // grain) * grain)
    bucket = max(grain, -(-bucket_seconds // grain) * grain)
    return Plan(stats_hourly if grain == 3600 else stats_daily, since, bucket)


def _empty() -> dict[str, Any]:
    return {"requests": 0, "errors": 0, "cache_hits": 0, "cost_nanousd": 0,
            "lat": [0] * STATS_BINS, "ttft": [0] * STATS_BINS}


def _add(acc: dict[str, Any], row: Mapping[str, Any]) -> None:
    for name in ("requests", "errors", "cache_hits", "cost_nanousd"):
        acc[name] += int(row[name] or 0)
    for name in ("lat", "ttft"):
        acc[name] = [a + b for a, b in zip(acc[name], row[name], strict=True)]


def _public(acc: Mapping[str, Any]) -> dict[str, Any]:
    """Counters and histograms as the API answers: USD, rates and percentiles."""
    requests = int(acc["requests"] or 0)
    return {"requests": requests, "errors": int(acc["errors"] or 0),
            "cache_hits": int(acc["cache_hits"] or 0),
            "cost_usd": int(acc["cost_nanousd"] or 0) / 1e9,
            "error_rate": int(acc["errors"] or 0) / requests if requests else 0.0,
            "cache_hit_rate": int(acc["cache_hits"] or 0) / requests if requests else 0.0,
            "latency_ms": quantiles(acc["lat"]), "ttft_ms": quantiles(acc["ttft"])}


class LedgerStats:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def _bucket(self, since: float, seconds: int) -> sa.ColumnElement[int]:
        offset = (ledger.c.started_at - since) / seconds
        if self._engine.dialect.name == "postgresql":
            return sa.cast(sa.func.floor(offset), sa.Integer)
        return sa.cast(offset, sa.Integer)  # SQLite truncates; the offset is never negative

    async def _rows(self, query: sa.Select[Any]) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            return [{str(k): v for k, v in r.items()}
                    for r in (await conn.execute(query)).mappings()]

    async def series(self, where: LedgerFilter, *, bucket_seconds: int,
                     by: str | None = None) -> tuple[Plan, list[dict[str, Any]]]:
        """Per time bucket (and `by` group): requests, errors, cache hits, cost, and
        latency and time-to-first-token percentiles. `t` is the bucket's start; the plan
        says where the buckets really start (rollups snap to whole hours or days)."""
        plan, rows = await self._read(where, bucket_seconds, by)
        out = [{"t": plan.since + int(row["b"]) * plan.bucket,
                **({"group": row.get("group") or None} if by is not None else {}),
                **_public(row)} for row in rows]
        out.sort(key=lambda r: (r["t"], str(r.get("group"))))
        return plan, [r for r in out if r["requests"]]

    async def _read(self, where: LedgerFilter, bucket_seconds: int, by: str | None,
                    ) -> tuple[Plan, list[dict[str, Any]]]:
        plan = plan_for(where, bucket_seconds)
        if plan.table is None:
            return plan, await self._raw(where, plan, by)
        return plan, await self._rollup(where, plan, by)

    async def overview(self, where: LedgerFilter, *, bucket_seconds: int, by: str,
                       ) -> tuple[Plan, dict[str, Any]]:
        """Totals, the series and the `by` breakdown from one read of the range (the
        dashboard's Overview needs all three; one grouped query instead of three)."""
        plan, rows = await self._read(where, bucket_seconds, by)
        total = _empty()
        series: dict[int, dict[str, Any]] = {}
        groups: dict[str | None, dict[str, Any]] = {}
        for row in rows:
            for acc in (total, series.setdefault(int(row["b"]), _empty()),
                        groups.setdefault(row.get("group") or None, _empty())):
                _add(acc, row)
        return plan, {
            "total": _public(total),
            "series": [{"t": plan.since + b * plan.bucket, **_public(acc)}
                       for b, acc in sorted(series.items()) if acc["requests"]],
            "groups": sorted(({"group": g, **_public(acc)} for g, acc in groups.items()
                              if acc["requests"]), key=lambda r: -r["requests"]),
        }

    async def _rollup(self, where: LedgerFilter, plan: Plan, by: str | None,
                      ) -> list[dict[str, Any]]:
        table = plan.table
        assert table is not None
        c = table.c
        keys: list[sa.ColumnElement[Any]] = [
            sa.cast((c.bucket - int(plan.since)) / plan.bucket, sa.BigInteger).label("b")]
        if by is not None:
            keys.append(c[DIMENSIONS[by]].label("group"))
        conditions = [c.bucket >= int(plan.since), c.bucket < where.until]
        for name, value in (("tenant_id", where.tenant), ("app_id", where.app),
                            ("key_id", where.key), ("model", where.model),
                            ("deployment", where.deployment)):
            if value is not None:
                conditions.append(c[name] == value)
        sums = [sa.func.sum(c[name]).label(name) for name in STATS_COUNTERS]
        rows = await self._rows(sa.select(*keys, *sums).where(*conditions).group_by(*keys))
        for row in rows:
            row["lat"] = [int(row.pop(f"lat_{i}") or 0) for i in range(STATS_BINS)]
            row["ttft"] = [int(row.pop(f"ttft_{i}") or 0) for i in range(STATS_BINS)]
        return rows

    async def _raw(self, where: LedgerFilter, plan: Plan, by: str | None,
                   ) -> list[dict[str, Any]]:
        """Straight from the ledger, for filters the rollups do not keep (status, route,
        tags): one scan of the time range through the covering index."""
        c = ledger.c
        keys: list[sa.ColumnElement[Any]] = [self._bucket(plan.since, plan.bucket).label("b")]
        if by is not None:
            keys.append(c[DIMENSIONS[by]].label("group"))
        sums = (sa.func.count().label("requests"),
                sa.func.sum(sa.case((c.outcome != "ok", 1), else_=0)).label("errors"),
                sa.func.sum(sa.case((c.cache_hit, 1), else_=0)).label("cache_hits"),
                sa.func.coalesce(sa.func.sum(c.cost_nanousd), 0).label("cost_nanousd"))
        conditions = where.conditions()
        totals = await self._rows(sa.select(*keys, *sums).where(*conditions).group_by(*keys))
        hist_keys = [*keys, _bin(c.latency_ms).label("lb"), _bin(c.ttft_ms).label("tb")]
        hists = await self._rows(sa.select(*hist_keys, sa.func.count().label("n"))
                                 .where(*conditions).group_by(*hist_keys))
        found: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in totals:
            found[(row["b"], row.get("group"))] = {**row, "lat": [0] * STATS_BINS,
                                                   "ttft": [0] * STATS_BINS}
        for row in hists:
            into = found.get((row["b"], row.get("group")))
            if into is not None:
                for name, hist in (("lb", into["lat"]), ("tb", into["ttft"])):
                    if row[name] >= 0:  # -1: no latency recorded
                        hist[row[name]] += int(row["n"])
        return list(found.values())

    async def summary(self, where: LedgerFilter, *, by: str | None = None,
                      ) -> list[dict[str, Any]]:
        """Totals of the whole range (per `by` group when given), percentiles included."""
        span = max(1, int(where.until - where.since) + 1)
        _, rows = await self.series(where, bucket_seconds=span * 2, by=by)
        for row in rows:
            row.pop("t", None)
        rows.sort(key=lambda r: -r["requests"])
        return rows

    async def requests(self, where: LedgerFilter, *, before: float | None = None,
                       limit: int = 50) -> list[dict[str, Any]]:
        """Rows newest first; `before`: the `started_at` the previous page ended at."""
        c = ledger.c
        conditions = where.conditions()
        if before is not None:
            conditions.append(c.started_at < before)
        query = (sa.select(*(c[n] for n in EXPLORER_COLUMNS)).where(*conditions)
                 .order_by(c.started_at.desc()).limit(limit))
        return await self._rows(query)

    async def row(self, request_id: str) -> dict[str, Any] | None:
        found = await self._rows(sa.select(*(ledger.c[n] for n in DETAIL_COLUMNS))
                                 .where(ledger.c.request_id == request_id))
        return found[0] if found else None

    async def audit_of(self, request_id: str) -> dict[str, Any] | None:
        """The request's audit record as readers see it (content as it was allowed)."""
        found = await self._rows(sa.select(audit_records).where(audit_records.c.id == request_id))
        return public(found[0]) if found else None

    async def attempts(self, where: LedgerFilter) -> dict[str, Any]:
        """Per deployment, the outcomes of the upstream attempts in the routes of the
        newest ATTEMPTS_SCAN requests of the range. Unlike the rollups (keyed by the
        deployment that answered), this counts failures a fallback hid."""
        c = ledger.c
        query = (sa.select(c.route).where(*where.conditions())
                 .order_by(c.started_at.desc()).limit(ATTEMPTS_SCAN))
        per: dict[str, dict[str, int]] = {}
        requests = 0
        for row in await self._rows(query):
            requests += 1
            for attempt in route_attempts(row["route"]):
                counts = per.setdefault(attempt["deployment"], {})
                counts[attempt["outcome"]] = counts.get(attempt["outcome"], 0) + 1
        data = []
        for name, outcomes in sorted(per.items()):
            sent = sum(n for o, n in outcomes.items() if o not in SKIPPED)
            failed = sent - outcomes.get("ok", 0)
            data.append({"deployment": name, "attempts": sent, "failures": failed,
                         "failure_rate": failed / sent if sent else 0.0,
                         "skipped": sum(n for o, n in outcomes.items() if o in SKIPPED),
                         "outcomes": outcomes})
        return {"requests_read": requests, "truncated": requests >= ATTEMPTS_SCAN,
                "data": data}

    async def findings(self, since: float, until: float, *, tenant: str | None = None,
                       ) -> dict[str, Any]:
        """Guardrail findings of request records in a time range, by category, from the
        audit trail (the ledger does not keep them). Reads the newest FINDINGS_SCAN request
        records of the range at most, so its cost does not grow with the range."""
        c = audit_records.c
        query = (sa.select(c.content).where(
            c.at >= since, c.at < until, c.kind == "request", c.content.is_not(None),
            *([c.tenant_id == tenant] if tenant is not None else []))
            .order_by(c.at.desc()).limit(FINDINGS_SCAN))
        by_category: dict[str, int] = {}
        requests = flagged = 0
        for row in await self._rows(query):
            requests += 1
            if '"findings":[{' not in row["content"]:  # canonical JSON: no spaces
                continue
            flagged += 1
            for finding in orjson.loads(row["content"]).get("findings") or ():
                name = f"{finding.get('guardrail')}/{finding.get('category')}"
                by_category[name] = by_category.get(name, 0) + 1
        return {"requests_with_findings": flagged, "requests_read": requests,
                "truncated": requests >= FINDINGS_SCAN,
                "by_category": dict(sorted(by_category.items(), key=lambda kv: -kv[1]))}


def route_attempts(route: str) -> list[dict[str, str]]:
    """`a:upstream_error, b:ok` (the x-pavedroad-route header) as attempts, in order."""
    out = []
    for part in route.split(", "):
        name, _, outcome = part.rpartition(":")
        if name:
            out.append({"deployment": name, "outcome": outcome})
    return out


def request_detail(row: Mapping[str, Any], audit: Mapping[str, Any] | None,
                   ) -> dict[str, Any]:
    """One request for the explorer: its ledger row, its route attempts, and what its
    audit record holds (findings, policy decision, and content only if it was logged)."""
    attempts = route_attempts(row.get("route") or "")
    cost = row.get("cost_nanousd")
    detail: dict[str, Any] = {
        **{k: v for k, v in row.items() if k not in ("cost_nanousd", "writer")},
        "cost_usd": None if cost is None else cost / 1e9, "attempts": attempts,
        "findings": [], "policy": None, "logging_level": None, "content": None,
        "audited": audit is not None}
    if audit is not None:
        detail.update(findings=audit.get("findings") or [], policy=audit.get("policy"),
                      logging_level=audit.get("level"), content=audit.get("content"),
                      audit_seq=audit.get("seq"))
    return detail
