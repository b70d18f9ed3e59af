"""Admin spend routes: reports from the daily rollups and raw ledger rows. The master key
reads every tenant's; a tenant admin key its own tenant's (api/scope.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.context import gateway_of
from pavedroad.api.responses import json_response
from pavedroad.api.scope import reader_tenant
from pavedroad.core.errors import InvalidRequest, PermissionDenied, ServiceUnavailable
from pavedroad.metering.report import org_names, parse_day, public_row, spend_report
from pavedroad.service.gateway import Gateway
from pavedroad.store.ledger import LedgerRepository

MAX_ROWS = 1000


def _repository(request: Request) -> tuple[Gateway, LedgerRepository]:
    reader_tenant(request)  # the master key, or a tenant admin (filtered below)
    gateway = gateway_of(request)
    if gateway.metering is None:
        raise ServiceUnavailable("metering is not configured on this gateway")
    return gateway, gateway.metering.repository



async def spend(request: Request) -> Response:
    """`GET /admin/spend?by=team&period=month&from=2025-03-01&to=2025-03-31`."""
    gateway, repository = _repository(request)
    only = reader_tenant(request)
    query = request.query_params
    by = query.get("by", "team")
    if only is not None and by.startswith("tag:"):
        # Tag rollups are not kept per tenant: a tenant admin cannot be given them safely.
        raise PermissionDenied("spend by tag needs the master key; tenant admins may group "
                               "by tenant, team, app, key, model, deployment or user")
    directory = gateway.org_admin.directory
    await directory.refresh()
    keys = await gateway.key_admin.list(include_revoked=True)
    report = await spend_report(
        repository, by=by, period=query.get("period", "month"),
        first=parse_day(query.get("from"), "from"), last=parse_day(query.get("to"), "to"),
        names=org_names(directory, keys), tenant=only)
    return json_response(report.as_dict())


async def ledger_rows(request: Request) -> Response:
    """`GET /admin/ledger?after=<request id>&limit=100`: raw rows, oldest first."""
    _, repository = _repository(request)
    text = request.query_params.get("limit", "100")
    if not text.isdigit() or not 1 <= int(text) <= MAX_ROWS:
        raise InvalidRequest(f"`limit` must be a whole number from 1 to {MAX_ROWS}",
                             param="limit")
    rows = await repository.rows(after=request.query_params.get("after"), limit=int(text),
                                 tenant=reader_tenant(request))
    data = [public_row(row) for row in rows]
    return json_response({"data": data, "next": data[-1]["request_id"] if data else None})
