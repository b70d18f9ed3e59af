"""Admin API of the prompt registry (docs/prompts.md).

The master key sees and changes every prompt; a tenant admin key those of its tenant's
apps (another tenant's prompts are `prompt_not_found`, never a hint that they exist).
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.context import caller_of, gateway_of
from pavedroad.api.parsing import read_json, validate
from pavedroad.api.responses import json_response
from pavedroad.api.scope import actor_of, reader_tenant
from pavedroad.core.errors import InvalidRequest, ServiceUnavailable
from pavedroad.service.prompts_admin import PromptAdmin, summary

_LIMIT = 256 * 1024


class LabelBody(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    app: str | None = None


class RollbackBody(msgspec.Struct, forbid_unknown_fields=True):
    app: str | None = None


class GateResultBody(msgspec.Struct, forbid_unknown_fields=True):
    passed: bool
    gate: str
    run_id: str
    summary: dict[str, Any] | None = None
    app: str | None = None



def _admin(request: Request) -> tuple[PromptAdmin, str | None]:
    """The registry and the tenant this caller is limited to (None: all)."""
    tenant = reader_tenant(request)  # the master key or a tenant admin; others 403
    admin = gateway_of(request).prompts
    if admin is None:
        raise ServiceUnavailable("the prompt registry is not enabled on this gateway")
    return admin, tenant


def _int(request: Request, name: str) -> int | None:
    raw = request.path_params.get(name, request.query_params.get(name))
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequest(f"`{name}` must be a whole number, got {raw!r}", param=name) \
            from None


def _required(request: Request, name: str) -> int:
    value = _int(request, name)
    if value is None:
        raise InvalidRequest(f"`{name}` is required", param=name)
    return value


async def list_prompts(request: Request) -> Response:
    admin, tenant = _admin(request)
    await admin.directory.refresh()
    rows = await admin.list(tenant=tenant)
    return json_response({"data": [summary(r, admin.app_path(r)) for r in rows]})


async def push_prompt(request: Request) -> Response:
    """`POST /admin/prompts`: the body is a prompt definition (as in a YAML file)."""
    admin, tenant = _admin(request)
    definition = await read_json(request, limit=_LIMIT)
    pushed = await admin.push(definition, actor=actor_of(caller_of(request)), tenant=tenant)
    return json_response({**summary(pushed.prompt, admin.app_path(pushed.prompt)),
                  "version": pushed.version, "created": pushed.created},
                 status=201 if pushed.created else 200)


async def show_prompt(request: Request) -> Response:
    admin, tenant = _admin(request)
    params = request.query_params
    return json_response(await admin.show(request.path_params["prompt"], version=_int(request, "version"),
                                  label=params.get("label"), app=params.get("app"),
                                  tenant=tenant))


async def diff_prompt(request: Request) -> Response:
    """`GET /admin/prompts/{id}/diff?from=1&to=2`."""
    admin, tenant = _admin(request)
    old, new = _required(request, "from"), _required(request, "to")
    return json_response(await admin.diff(request.path_params["prompt"], old, new,
                                  app=request.query_params.get("app"), tenant=tenant))


async def move_label(request: Request) -> Response:
    """`POST /admin/prompts/{id}/labels/{label}` with `{"version": N}`: promote."""
    admin, tenant = _admin(request)
    body = validate(await read_json(request, limit=_LIMIT), LabelBody)
    move = await admin.move_label(request.path_params["prompt"], body.version,
                                  label=request.path_params["label"], app=body.app,
                                  actor=actor_of(caller_of(request)), tenant=tenant)
    return json_response(move.public())


async def rollback_label(request: Request) -> Response:
    """`POST /admin/prompts/{id}/labels/{label}/rollback`."""
    admin, tenant = _admin(request)
    data = await read_json(request, limit=_LIMIT) if await request.body() else {}
    body = validate(data, RollbackBody)
    move = await admin.rollback(request.path_params["prompt"], label=request.path_params["label"],
                                app=body.app, actor=actor_of(caller_of(request)), tenant=tenant)
    return json_response(move.public())


async def record_gate_result(request: Request) -> Response:
    """`POST /admin/prompts/{id}/versions/{version}/gate-results`: what `pavedroad eval
    gate` reports for a prompt version (body: passed, gate, run_id, summary)."""
    admin, tenant = _admin(request)
    version = _required(request, "version")
    body = validate(await read_json(request, limit=_LIMIT), GateResultBody)
    result = await admin.record_gate_result(
        request.path_params["prompt"], version, passed=body.passed, gate=body.gate,
        run_id=body.run_id, summary=body.summary, app=body.app,
        actor=actor_of(caller_of(request)), tenant=tenant)
    return json_response(result.public(), status=201)


ROUTES = [
    ("/admin/prompts", list_prompts, "GET"),
    ("/admin/prompts", push_prompt, "POST"),
    ("/admin/prompts/{prompt}", show_prompt, "GET"),
    ("/admin/prompts/{prompt}/diff", diff_prompt, "GET"),
    ("/admin/prompts/{prompt}/labels/{label}", move_label, "POST"),
    ("/admin/prompts/{prompt}/labels/{label}/rollback", rollback_label, "POST"),
    ("/admin/prompts/{prompt}/versions/{version}/gate-results", record_gate_result, "POST"),
]
