"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.context import gateway_of


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


async def readyz(request: Request) -> Response:
    gateway = gateway_of(request)
    checks = {"config": gateway.ready, "store": gateway.store_ok}
    if gateway.shared is not None:  # limits, budgets and the cache are in Redis
        checks["redis"] = await gateway.shared.ping()
    ok = all(checks.values())
    body = {"status": "ready" if ok else "not_ready", "checks": checks}
    return Response(orjson.dumps(body), status_code=200 if ok else 503,
                    media_type="application/json")


async def metrics(request: Request) -> Response:
    return Response(gateway_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
