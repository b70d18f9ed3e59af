"""Admin reads of evaluation runs, for the dashboard and scripts (docs/api.md).

The master key reads every run; a tenant admin key only runs made with its tenant's keys
(api/scope.py): another tenant's run is `eval_run_not_found`, never a hint it exists.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.context import gateway_of
from pavedroad.api.responses import json_response
from pavedroad.api.scope import reader_tenant
from pavedroad.core.errors import InvalidRequest
from pavedroad.evals.service import EvalService
from pavedroad.store.evals import EvalRepository

MAX_RUNS = 500



def _service(request: Request) -> EvalService:
    gateway = gateway_of(request)
    return EvalService(EvalRepository(gateway.engine), gateway.org_admin.directory)


async def list_runs(request: Request) -> Response:
    """`GET /admin/evals/runs?suite=&limit=`: newest first."""
    tenant = reader_tenant(request)
    limit = request.query_params.get("limit", "100")
    if not limit.isdecimal() or not 1 <= int(limit) <= MAX_RUNS:
        raise InvalidRequest(f"`limit` must be a whole number from 1 to {MAX_RUNS}",
                             param="limit")
    rows = await _service(request).repository.runs(
        tenant=tenant, suite=request.query_params.get("suite"), limit=int(limit))
    return json_response({"data": [r.public() for r in rows]})


async def show_run(request: Request) -> Response:
    """`GET /admin/evals/runs/{run_id}`: the run, its summary and every case's result."""
    tenant = reader_tenant(request)
    view = await _service(request).view(request.path_params["run_id"], tenant=tenant)
    return json_response(view.public())


async def compare_runs(request: Request) -> Response:
    """`GET /admin/evals/compare?base=RUN&candidate=RUN[&scorer=NAME]`."""
    tenant = reader_tenant(request)
    params = request.query_params
    for name in ("base", "candidate"):
        if not params.get(name):
            raise InvalidRequest(f"`{name}` (a run id) is required", param=name)
    comparison = await _service(request).compare(params["base"], params["candidate"],
                                                 tenant=tenant, scorer=params.get("scorer"))
    return json_response(comparison.public())


ROUTES = [
    ("/admin/evals/runs", list_runs, "GET"),
    ("/admin/evals/runs/{run_id}", show_run, "GET"),
    ("/admin/evals/compare", compare_runs, "GET"),
]
