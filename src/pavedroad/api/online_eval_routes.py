"""`GET /admin/evals/online`: online evaluation scores, per app and scorer, for the dashboard.

The master key reads every tenant's scores; a tenant admin key only its own tenant's
(api/scope.py), and another tenant's app looks like no app at all.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.context import gateway_of
from pavedroad.api.scope import readable_app, reader_tenant
from pavedroad.audit.export import parse_time
from pavedroad.core.errors import InvalidRequest
from pavedroad.store.online_eval import OnlineEvalRepository

MAX_ROWS = 1000


async def online_scores(request: Request) -> Response:
    """`?app=tenant/team/app&from=&to=&limit=`: a summary per app and scorer (mean, pass
    rate) and the newest rows."""
    only = reader_tenant(request)
    gateway = gateway_of(request)
    query = request.query_params
    limit = query.get("limit", "100")
    if not limit.isdecimal() or not 1 <= int(limit) <= MAX_ROWS:
        raise InvalidRequest(f"`limit` must be a whole number from 1 to {MAX_ROWS}", param="limit")
    app_id = await readable_app(request, query.get("app"), only)
    since, until = parse_time(query.get("from"), "from"), parse_time(query.get("to"), "to")
    # Read from the store even when sampling is off here: scores stored earlier (or by
    # another replica) stay readable.
    repository = (gateway.online_eval.repository if gateway.online_eval is not None
                  else OnlineEvalRepository(gateway.engine))
    summary = await repository.summary(tenant=only, app=app_id, since=since, until=until)
    rows = await repository.rows(tenant=only, app=app_id, since=since, until=until,
                                 limit=int(limit))
    return Response(orjson.dumps({"summary": summary, "data": rows}),
                    media_type="application/json")
