"""Admin read endpoints behind the dashboard: ledger aggregates and the request explorer.

The master key reads every tenant; a tenant admin key only its tenant (api/scope.py).
Times are Unix seconds or ISO dates; the range defaults to the last 24 hours.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.context import gateway_of
from pavedroad.api.responses import json_response
from pavedroad.api.scope import reader_tenant
from pavedroad.audit.export import parse_time
from pavedroad.core.errors import InvalidRequest, NotFound
from pavedroad.store.ledger import DIMENSIONS
from pavedroad.store.ledger_stats import LedgerFilter, LedgerStats, request_detail

DAY = 86400
MAX_RANGE = 400 * DAY
MAX_BUCKETS = 500
MAX_PAGE = 500



def _window(query: Mapping[str, str], *, now: float | None = None) -> tuple[float, float]:
    until = parse_time(query.get("to"), "to") or (now or time.time())
    since = parse_time(query.get("from"), "from")
    since = until - DAY if since is None else since
    if since >= until:
        raise InvalidRequest("`from` must be before `to`", param="from")
    if until - since > MAX_RANGE:
        raise InvalidRequest("the time range is at most 400 days", param="from")
    return since, until


def _by(query: Mapping[str, str]) -> str | None:
    by = query.get("by") or None
    if by is not None and by not in DIMENSIONS:
        raise InvalidRequest(f"`by` must be one of {', '.join(DIMENSIONS)}", param="by")
    return by


def _tags(values: list[str]) -> dict[str, str]:
    tags = {}
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise InvalidRequest(f"`tag` must be key=value, got {text!r}", param="tag")
        tags[key] = value
    return tags


async def ledger_filter(request: Request) -> LedgerFilter:
    """The filter a dashboard read asked for, limited to the reader's tenant."""
    only = reader_tenant(request)
    query = request.query_params
    since, until = _window(query)
    app_id = None
    if query.get("app"):
        directory = gateway_of(request).org_admin.directory
        await directory.refresh()
        try:
            app_id = directory.app(query["app"]).id
        except NotFound:
            raise NotFound(f"no app {query['app']!r}", param="app") from None
    return LedgerFilter(
        since=since, until=until, tenant=only, app=app_id, key=query.get("key") or None,
        model=query.get("model") or None, deployment=query.get("deployment") or None,
        status=query.get("status") or None, route=query.get("route") or None,
        tags=_tags(query.getlist("tag")))


def _bucket(query: Mapping[str, str], since: float, until: float) -> int:
    text = query.get("bucket")
    span = until - since
    if not text:  # about 48 points, in whole minutes
        return max(60, int(span / 48) // 60 * 60)
    if not text.isdigit() or int(text) < 1:
        raise InvalidRequest("`bucket` must be a whole number of seconds", param="bucket")
    if span / int(text) > MAX_BUCKETS:
        raise InvalidRequest(f"at most {MAX_BUCKETS} buckets: choose a larger `bucket`",
                             param="bucket")
    return int(text)


def _stats(request: Request) -> LedgerStats:
    return LedgerStats(gateway_of(request).engine)


async def timeseries(request: Request) -> Response:
    """`GET /admin/stats/timeseries?from=&to=&bucket=&by=&app=&model=…`: per bucket
    requests, errors, cache hits, cost, latency and TTFT percentiles."""
    where = await ledger_filter(request)
    bucket = _bucket(request.query_params, where.since, where.until)
    plan, data = await _stats(request).series(where, bucket_seconds=bucket,
                                              by=_by(request.query_params))
    return json_response({"from": plan.since, "to": where.until, "bucket": plan.bucket,
                  "source": "ledger" if plan.table is None else plan.table.name, "data": data})


async def overview(request: Request) -> Response:
    """`GET /admin/stats/overview?from=&to=&bucket=&by=app`: the range's totals, its
    series and its breakdown by `by` (default app) from one read."""
    where = await ledger_filter(request)
    bucket = _bucket(request.query_params, where.since, where.until)
    plan, data = await _stats(request).overview(where, bucket_seconds=bucket,
                                                by=_by(request.query_params) or "app")
    return json_response({"from": plan.since, "to": where.until, "bucket": plan.bucket,
                  "source": "ledger" if plan.table is None else plan.table.name, **data})


async def summary(request: Request) -> Response:
    """`GET /admin/stats/summary?from=&to=&by=model`: range totals, per group when asked."""
    where = await ledger_filter(request)
    data = await _stats(request).summary(where, by=_by(request.query_params))
    return json_response({"from": where.since, "to": where.until, "data": data})


async def findings(request: Request) -> Response:
    """`GET /admin/stats/findings?from=&to=`: guardrail findings by category."""
    where = await ledger_filter(request)
    data = await _stats(request).findings(where.since, where.until, tenant=where.tenant)
    return json_response({"from": where.since, "to": where.until, **data})


async def attempts(request: Request) -> Response:
    """`GET /admin/stats/attempts?from=&to=&…`: per deployment, how its upstream attempts
    ended (from the routes of the newest 10,000 requests of the range)."""
    where = await ledger_filter(request)
    data = await _stats(request).attempts(where)
    return json_response({"from": where.since, "to": where.until, **data})


async def requests(request: Request) -> Response:
    """`GET /admin/requests?app=&key=&model=&status=&route=&tag=k=v&from=&to=&before=`:
    ledger rows newest first; `next` is the `before` of the following page."""
    where = await ledger_filter(request)
    query = request.query_params
    limit_text = query.get("limit", "50")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
        raise InvalidRequest(f"`limit` must be a whole number from 1 to {MAX_PAGE}",
                             param="limit")
    before = parse_time(query.get("before"), "before")
    rows = await _stats(request).requests(where, before=before, limit=int(limit_text))
    data: list[dict[str, Any]] = []
    for row in rows:
        cost = row.pop("cost_nanousd")
        data.append({**row, "cost_usd": None if cost is None else cost / 1e9})
    more = len(rows) == int(limit_text)
    return json_response({"data": data, "next": data[-1]["started_at"] if more else None})


async def request_one(request: Request) -> Response:
    """`GET /admin/requests/{id}`: route attempts, timings, tokens, cost, findings, policy
    decision, and content only where the policy let the audit record keep it."""
    only = reader_tenant(request)
    stats = _stats(request)
    request_id = request.path_params["request_id"]
    row = await stats.row(request_id)
    if row is None or (only is not None and row.get("tenant_id") != only):
        raise NotFound(f"no request {request_id!r} in the ledger", param="request_id")
    return json_response(request_detail(row, await stats.audit_of(request_id)))
