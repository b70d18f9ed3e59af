"""Admin API for budgets: set (create or change), list with spend so far, delete."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.context import caller_of, gateway_of
from pavedroad.api.parsing import read_json, validate
from pavedroad.api.responses import json_response
from pavedroad.api.scope import actor_of, reader_tenant
from pavedroad.core.errors import PermissionDenied, ServiceUnavailable
from pavedroad.service.budget_admin import BudgetAdmin


class BudgetBody(msgspec.Struct, forbid_unknown_fields=True):
    scope: str
    subject: str
    amount: float
    period: str = "month"
    soft: float | None = None
    hard: bool = True



def _admin(request: Request, *, read: bool = False) -> BudgetAdmin:
    if read:
        reader_tenant(request)  # the master key or a tenant admin
    elif not caller_of(request).is_admin:
        raise PermissionDenied("this endpoint needs the admin master key (PAVEDROAD_MASTER_KEY)")
    enforcement = gateway_of(request).enforcement
    if enforcement is None:
        raise ServiceUnavailable("budgets are not enabled on this gateway")
    return enforcement.admin


async def set_budget(request: Request) -> Response:
    admin = _admin(request)
    body = validate(await read_json(request, limit=64 * 1024), BudgetBody)
    view, created = await admin.set(scope=body.scope, subject=body.subject, amount=body.amount,
                                    period=body.period, soft=body.soft, hard=body.hard,
                                    actor=actor_of(caller_of(request)))
    return json_response(view.public(), status=201 if created else 200)


async def list_budgets(request: Request) -> Response:
    """A tenant admin sees the budgets of its tenant's subjects only."""
    admin = _admin(request, read=True)
    only = reader_tenant(request)
    if only is not None:  # subjects made on another replica must be known to be shown
        await gateway_of(request).org_admin.directory.refresh()
    views = [view for view in await admin.all()
             if only is None or await admin.tenant_of(view.budget) == only]
    return json_response({"data": [view.public() for view in views]})


async def delete_budget(request: Request) -> Response:
    admin = _admin(request)
    budget = await admin.delete(request.path_params["budget_id"],
                                actor=actor_of(caller_of(request)))
    return json_response({**budget.public(), "deleted": True})
