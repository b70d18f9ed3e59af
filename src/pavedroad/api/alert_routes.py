"""Admin alert routes: what fired, and whether it is still firing (tenant admins: theirs)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.context import gateway_of
from pavedroad.api.responses import json_response
from pavedroad.api.scope import readable_app, reader_tenant
from pavedroad.audit.export import parse_time
from pavedroad.core.errors import InvalidRequest, ServiceUnavailable
from pavedroad.telemetry.alerts import AlertService

_STATES = ("all", "firing", "resolved")


def _alerts(request: Request) -> AlertService:
    alerts = gateway_of(request).alerts
    if alerts is None:
        raise ServiceUnavailable("alerts are not enabled on this gateway "
                                 "(telemetry.alerts.enabled: false)")
    return alerts


async def list_alerts(request: Request) -> Response:
    """`GET /admin/alerts?state=firing|resolved|all&app=&from=&limit=`: newest first."""
    only = reader_tenant(request)
    alerts = _alerts(request)
    query = request.query_params
    state = query.get("state", "all")
    if state not in _STATES:
        raise InvalidRequest(f"`state` must be one of {', '.join(_STATES)}", param="state")
    limit_text = query.get("limit", "200")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
        raise InvalidRequest("`limit` must be a whole number from 1 to 1000", param="limit")
    app_id = await readable_app(request, query.get("app"), only)
    records = await alerts.list(state=state, tenant_id=only, app_id=app_id,
                                        since=parse_time(query.get("from"), "from"),
                                        limit=int(limit_text))
    body = {"alerts": [r.as_dict() for r in records]}
    return json_response(body)


async def list_slos(request: Request) -> Response:
    """`GET /admin/slos`: each app's objectives and their burn rates right now, as this
    gateway sees its own traffic (tenant admins: their tenant's apps)."""
    only = reader_tenant(request)
    alerts = _alerts(request)
    configured = [slo.model_dump() for slo in gateway_of(request).settings.telemetry.slos]
    body = {"configured": configured, "slos": alerts.monitor.status(tenant_id=only)}
    return json_response(body)
