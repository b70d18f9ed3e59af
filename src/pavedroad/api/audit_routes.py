"""Admin audit routes: read the trail (tenant admins: their tenant's only) and verify it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.context import caller_of, gateway_of
from pavedroad.api.responses import json_response
from pavedroad.api.scope import readable_app, reader_tenant
from pavedroad.audit.export import parse_time
from pavedroad.audit.trail import AuditTrail, verify_chain
from pavedroad.core.errors import InvalidRequest, PermissionDenied, ServiceUnavailable
from pavedroad.store.audit import public

MAX_ROWS = 1000



def _trail(request: Request) -> AuditTrail:
    trail = gateway_of(request).audit
    if trail is None:
        raise ServiceUnavailable("the audit trail is not enabled on this gateway")
    return trail


def _whole(text: str | None, param: str, *, default: int | None, top: int | None = None,
           ) -> int | None:
    if text is None:
        return default
    if not text.isdigit() or (top is not None and not 1 <= int(text) <= top):
        bound = f" from 1 to {top}" if top else ""
        raise InvalidRequest(f"`{param}` must be a whole number{bound}", param=param)
    return int(text)


async def audit_records(request: Request) -> Response:
    """`GET /admin/audit?from=&to=&app=&limit=&after=<seq>`: records oldest first."""
    only = reader_tenant(request)
    trail = _trail(request)
    query = request.query_params
    app_id = await readable_app(request, query.get("app"), only)
    rows = await trail.repository.find(
        since=parse_time(query.get("from"), "from"), until=parse_time(query.get("to"), "to"),
        tenant=only, app=app_id, after=_whole(query.get("after"), "after", default=None),
        limit=_whole(query.get("limit"), "limit", default=100, top=MAX_ROWS) or 100)
    data = [public(row) for row in rows]
    return json_response({"data": data, "next": data[-1]["seq"] if data else None})


async def audit_verify(request: Request) -> Response:
    """`GET /admin/audit/verify`: walk the whole chain (master key only: it spans tenants).
    200 when intact, 409 naming the first bad record otherwise."""
    if not caller_of(request).is_admin:
        raise PermissionDenied("verifying the audit chain needs the admin master key")
    verdict = await verify_chain(_trail(request).repository)
    return json_response(verdict.as_dict(), status=200 if verdict.ok else 409)
