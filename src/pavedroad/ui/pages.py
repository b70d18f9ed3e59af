"""What each dashboard page shows, assembled from admin API answers (ui/internal.py).

A page function takes the request, the logged-in caller and the query, and returns the
template's context. Nothing here reads the database directly: what the admin API refuses
or scopes, the dashboard refuses or scopes too.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request

from pavedroad.budgets.period import parse_period, window
from pavedroad.core.types import Caller
from pavedroad.ui.charts import Series, bar_chart, line_chart
from pavedroad.ui.internal import AdminAnswer, call_admin

RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
BREAKDOWNS = ("app", "model", "deployment", "team", "tenant", "key")
FILTERS = ("app", "key", "model", "status", "route", "tag")


def time_range(query: Mapping[str, str], *, now: float | None = None) -> tuple[str, float, float]:
    """The picked range (a RANGES name) and its [from, to) in Unix seconds."""
    name = query.get("range", "24h")
    if name not in RANGES:
        name = "24h"
    end = time.time() if now is None else now
    return name, end - RANGES[name], end


def stamp(value: float | None) -> str:
    if value is None:
        return "—"
    return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


class OrgNames:
    """Ids to the names people use: app paths, team and tenant names, key names."""

    def __init__(self, org: AdminAnswer, keys: AdminAnswer) -> None:
        self.names: dict[str, str] = {}
        if org.ok:
            for kind, label in (("tenants", "name"), ("teams", "name"), ("apps", "path")):
                for item in org.data.get(kind, []):
                    self.names[item["id"]] = str(item.get(label) or item["id"])
        if keys.ok:
            for item in keys.data.get("data", []):
                self.names[item["id"]] = f"{item.get('name')} ({item['id']})"

    def __call__(self, value: Any) -> str:
        if value in (None, ""):
            return "(none)"
        return self.names.get(str(value), str(value))


async def names(request: Request, caller: Caller) -> OrgNames:
    return OrgNames(await call_admin(request, caller, "GET", "/admin/org"),
                    await call_admin(request, caller, "GET", "/admin/keys",
                                     query={"include_revoked": "1"}))


def _filters(query: Mapping[str, str]) -> dict[str, str]:
    return {k: query[k] for k in FILTERS if query.get(k)}


def _spend(answer: AdminAnswer) -> float | None:
    return float(answer.data["total"]["cost_usd"]) if answer.ok else None


def _filled(answer: Mapping[str, Any]) -> tuple[list[float], dict[float, dict[str, float]]]:
    """Every bucket of a timeseries answer, counts of the empty ones zero: a quiet hour is
    a dip in the line, not a gap the line jumps across."""
    step = float(answer["bucket"])
    t = [answer["from"] + i * step for i in range(int((answer["to"] - answer["from"]) // step) + 1)]
    counts = {x: {"requests": 0.0, "errors": 0.0, "cost_usd": 0.0} for x in t}
    for p in answer["series"]:
        counts.setdefault(p["t"], {}).update(
            requests=p["requests"], errors=p["errors"], cost_usd=p["cost_usd"])
    return sorted(counts), counts


async def overview(request: Request, caller: Caller, query: Mapping[str, str]) -> dict[str, Any]:
    name, since, until = time_range(query)
    by = query.get("by") if query.get("by") in BREAKDOWNS else "app"
    window_q = {"from": since, "to": until, **{k: query.get(k) for k in ("app", "model")}}
    stats = await call_admin(request, caller, "GET", "/admin/stats/overview",
                             query={**window_q, "by": by})
    findings = await call_admin(request, caller, "GET", "/admin/stats/findings", query=window_q)
    today = await call_admin(request, caller, "GET", "/admin/spend",
                             query={"by": "tenant", "period": "day"})
    month = await call_admin(request, caller, "GET", "/admin/spend",
                             query={"by": "tenant", "period": "month"})
    budgets = await call_admin(request, caller, "GET", "/admin/budgets")
    alerts = await call_admin(request, caller, "GET", "/admin/alerts")
    slos = await call_admin(request, caller, "GET", "/admin/slos")
    label = await names(request, caller)
    total = stats.data["total"] if stats.ok else None
    points = stats.data["series"] if stats.ok else []
    charts = []
    if stats.ok:
        start = float(stats.data["from"])  # the rollups start at a whole hour or day
        t, counts = _filled(stats.data)
        charts = [
            line_chart([Series(name, [(x, counts[x][name]) for x in t])
                        for name in ("requests", "errors")],
                       start=start, end=until, title="Requests and errors"),
            line_chart([Series(f"latency {q}", [(p["t"], p["latency_ms"][q]) for p in points])
                        for q in ("p50", "p95", "p99")],
                       start=start, end=until, unit=" ms", title="Latency"),
            line_chart([Series(f"TTFT {q}", [(p["t"], p["ttft_ms"][q]) for p in points])
                        for q in ("p50", "p95", "p99")],
                       start=start, end=until, unit=" ms", title="Time to first token"),
            line_chart([Series("cost", [(x, counts[x]["cost_usd"]) for x in t])],
                       start=start, end=until, unit="$", title="Spend"),
        ]
    rows = stats.data["groups"] if stats.ok else []
    breakdown = bar_chart([(label(r["group"]), r["requests"]) for r in rows],
                          title=f"Requests by {by}")
    limits = [b for b in budgets.data.get("data", [])] if budgets.ok else []
    return {
        "range": name, "by": by, "filters": _filters(query), "total": total,
        "error": None if stats.ok else stats.error, "charts": charts,
        "breakdown": breakdown, "groups": rows, "label": label,
        "findings": findings.data if findings.ok else None,
        "spend_today": _spend(today), "spend_month": _spend(month),
        "budget_day": sum(b["amount"] for b in limits if b["period"] == "day"),
        "budget_month": sum(b["amount"] for b in limits if b["period"] == "month"),
        "alerts": alerts.data.get("alerts", []) if alerts.ok else None,
        "alerts_status": alerts.status,
        "slos": slos.data.get("slos", []) if slos.ok else [],
    }


async def requests_page(request: Request, caller: Caller, query: Mapping[str, str],
                        ) -> dict[str, Any]:
    name, since, until = time_range(query)
    filters = _filters(query)
    # An explicit from/to (the date-time inputs) beats the preset; the API validates it.
    answer = await call_admin(request, caller, "GET", "/admin/requests", query={
        "from": query.get("from") or since, "to": query.get("to") or until,
        "before": query.get("before"), "limit": 50, **filters})
    return {"range": name, "filters": filters, "rows": answer.data["data"] if answer.ok else [],
            "next": answer.data["next"] if answer.ok else None,
            "error": None if answer.ok else answer.error, "label": await names(request, caller)}


async def request_detail(request: Request, caller: Caller, request_id: str) -> dict[str, Any]:
    answer = await call_admin(request, caller, "GET", f"/admin/requests/{request_id}")
    return {"detail": answer.data if answer.ok else None,
            "error": None if answer.ok else answer.error,
            "label": await names(request, caller)}


def forecast(budget: Mapping[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """Burn rate (USD/day) over the budget's current period so far, and when the rest runs
    out at that rate: None when nothing is spent or it lasts past the period's end."""
    now = time.time() if now is None else now
    period = window(parse_period(str(budget["period"])), now)
    start = period.start if period.end is not None else float(budget.get("updated_at") or now)
    days = max((now - start) / 86400, 1 / 24)
    spent = float(budget.get("spent", 0)) + float(budget.get("reserved", 0))
    rate = spent / days
    remaining = max(float(budget["amount"]) - spent, 0.0)
    runs_out = None
    if rate > 0:
        when = now + remaining / rate * 86400
        if period.end is None or when < period.end:
            runs_out = when
    return {"burn_per_day": rate, "runs_out_at": runs_out,
            "used": spent / float(budget["amount"]) if budget["amount"] else 1.0}


async def budgets_page(request: Request, caller: Caller) -> dict[str, Any]:
    answer = await call_admin(request, caller, "GET", "/admin/budgets")
    rows = [{**b, **forecast(b)} for b in answer.data["data"]] if answer.ok else []
    return {"rows": rows, "error": None if answer.ok else answer.error}


async def routing_page(request: Request, caller: Caller, query: Mapping[str, str],
                       ) -> dict[str, Any]:
    name, since, until = time_range(query)
    deployments = await call_admin(request, caller, "GET", "/admin/deployments")
    switches = await call_admin(request, caller, "GET", "/admin/switches")
    stats = await call_admin(request, caller, "GET", "/admin/stats/summary",
                             query={"from": since, "to": until, "by": "deployment"})
    tried = await call_admin(request, caller, "GET", "/admin/stats/attempts",
                             query={"from": since, "to": until})
    by_name = {r["group"]: r for r in stats.data["data"]} if stats.ok else {}
    by_attempts = {r["deployment"]: r for r in tried.data["data"]} if tried.ok else {}
    rows = [{**d, "stats": by_name.get(d["name"]), "tried": by_attempts.get(d["name"])}
            for d in (deployments.data["data"] if deployments.ok else [])]
    return {"range": name, "rows": rows,
            "sampled": tried.data["requests_read"] if tried.ok and tried.data["truncated"]
            else None,
            "switches": switches.data["data"] if switches.ok else [],
            "error": None if deployments.ok else deployments.error}


def table_of(data: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows for an answer whose shape this UI does not know in advance: the
    first list in it; nested values are shown as compact JSON."""
    items = data
    if isinstance(data, dict):
        items = next((v for v in data.values() if isinstance(v, list)), [])
    rows = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    columns: list[str] = []
    for row in rows[:20]:
        columns += [key for key in row if key not in columns]
    shown = [{k: (orjson.dumps(v).decode()[:120] if isinstance(v, dict | list) else v)
              for k, v in row.items()} for row in rows[:200]]
    return columns[:12], shown


async def section(request: Request, caller: Caller, path: str, title: str,
                  *, query: dict[str, Any] | None = None) -> dict[str, Any]:
    """One table from an admin endpoint that may not exist on this gateway (404)."""
    answer = await call_admin(request, caller, "GET", path, query=query)
    data = answer.data
    if answer.ok and isinstance(data, dict) and isinstance(data.get("summary"), list):
        data = {"summary": data["summary"]}  # online scores: the per-app summary
    columns, rows = table_of(data) if answer.ok else ([], [])
    return {"title": title, "path": path, "present": answer.status != 404,
            "columns": columns, "rows": rows,
            "error": None if answer.ok or answer.status == 404 else answer.error}


async def evals_page(request: Request, caller: Caller) -> dict[str, Any]:
    return {"title": "Evals", "sections": [
        await section(request, caller, "/admin/evals/runs", "Eval runs (newest first)"),
        await section(request, caller, "/admin/evals/online", "Online scores per app"),
    ]}


async def prompts_page(request: Request, caller: Caller) -> dict[str, Any]:
    return {"title": "Prompts",
            "sections": [await section(request, caller, "/admin/prompts", "Prompts")]}


async def audit_page(request: Request, caller: Caller) -> dict[str, Any]:
    verify = await call_admin(request, caller, "GET", "/admin/audit/verify")
    head = int(verify.data.get("head_seq") or 0) if isinstance(verify.data, dict) else 0
    records = await call_admin(request, caller, "GET", "/admin/audit",
                               query={"after": max(head - 1000, 0), "limit": 1000})
    admin = [r for r in (records.data["data"] if records.ok else []) if r["kind"] != "request"]
    return {"verdict": verify.data if isinstance(verify.data, dict) else None,
            "verify_status": verify.status, "records": list(reversed(admin))[:100],
            "error": None if records.ok else records.error}
