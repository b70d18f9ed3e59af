"""Admin API: virtual keys, the kill switch, deployment health. Master key only."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.context import caller_of, gateway_of
from pavedroad.api.parsing import read_json, validate
from pavedroad.api.responses import json_response
from pavedroad.api.scope import actor_of, reader_tenant
from pavedroad.core.errors import PermissionDenied
from pavedroad.core.types import Caller


class KeyCreateBody(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    models: list[str] | None = None
    app: str | None = None
    expires_in: float | None = None
    metadata: dict[str, str] | None = None
    limits: dict[str, int] | None = None
    tags: dict[str, str] | None = None
    role: str = "caller"  # or tenant_admin: reads its app's tenant via the admin API


class TenantBody(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    limits: dict[str, int] | None = None


class TeamBody(msgspec.Struct, forbid_unknown_fields=True):
    tenant: str
    name: str
    limits: dict[str, int] | None = None


class AppBody(msgspec.Struct, forbid_unknown_fields=True):
    team: str
    name: str
    limits: dict[str, int] | None = None
    tags: dict[str, str] | None = None
    fail_mode: str = "open"
    settings: dict[str, Any] | None = None  # per-app feature settings, e.g. `cache`
    risk_class: str | None = None
    data_classification: str | None = None


class AppUpdateBody(msgspec.Struct, forbid_unknown_fields=True):
    risk_class: str | None = None
    data_classification: str | None = None


class SwitchBody(msgspec.Struct, forbid_unknown_fields=True):
    scope: str
    name: str
    disabled: bool
    reason: str = ""



def _admin(request: Request) -> Caller:
    caller = caller_of(request)
    if not caller.is_admin:
        raise PermissionDenied("this endpoint needs the admin master key (PAVEDROAD_MASTER_KEY)")
    return caller


async def create_key(request: Request) -> Response:
    caller = _admin(request)
    gateway = gateway_of(request)
    body = validate(await read_json(request, limit=64 * 1024), KeyCreateBody)
    created = await gateway.key_admin.create(
        name=body.name, models=body.models, app=body.app, expires_in=body.expires_in,
        metadata=body.metadata, limits=body.limits, tags=body.tags, role=body.role,
        actor=actor_of(caller))
    return json_response({**created.record.public(), "key": created.plaintext}, status=201)


async def list_keys(request: Request) -> Response:
    _admin(request)
    include = request.query_params.get("include_revoked") in ("1", "true", "yes")
    records = await gateway_of(request).key_admin.list(include_revoked=include)
    return json_response({"data": [r.public() for r in records]})


async def revoke_key(request: Request) -> Response:
    caller = _admin(request)
    record = await gateway_of(request).key_admin.revoke(request.path_params["key_id"],
                                                        actor=actor_of(caller))
    return json_response(record.public())


async def list_switches(request: Request) -> Response:
    _admin(request)
    records = await gateway_of(request).switch_admin.list()
    return json_response({"data": [
        {"scope": r.scope, "name": r.name, "disabled": r.disabled, "reason": r.reason,
         "updated_by": r.updated_by, "updated_at": r.updated_at} for r in records]})


async def set_switch(request: Request) -> Response:
    caller = _admin(request)
    body = validate(await read_json(request, limit=64 * 1024), SwitchBody)
    await gateway_of(request).switch_admin.set(
        body.scope, body.name, disabled=body.disabled, reason=body.reason, by=caller.name)
    return json_response({"scope": body.scope, "name": body.name, "disabled": body.disabled})


class SafeModeBody(msgspec.Struct, forbid_unknown_fields=True):
    scope: str
    name: str
    enabled: bool
    reason: str = ""


async def set_safe_mode(request: Request) -> Response:
    """POST /admin/safe-mode: put an app, model, provider kind or `global all` in safe mode."""
    caller = _admin(request)
    body = validate(await read_json(request, limit=64 * 1024), SafeModeBody)
    await gateway_of(request).switch_admin.set_safe_mode(
        body.scope, body.name, enabled=body.enabled, reason=body.reason, by=caller.name)
    return json_response({"scope": body.scope, "name": body.name, "enabled": body.enabled})


async def list_deployments(request: Request) -> Response:
    _admin(request)
    router = gateway_of(request).router
    switches = router.switches
    data = [
        {"name": name, "provider": dep.provider_kind, "model": dep.config.model,
         "breaker": dep.breaker.state.name.lower(),
         "latency_ms": round(dep.latency.estimate() * 1000, 2),
         "disabled": switches.blocks(deployment=name, provider=dep.provider_kind),
         "labels": dep.config.labels}
        for name, dep in router.deployments.items()
    ]
    return json_response({"data": data})


async def create_tenant(request: Request) -> Response:
    caller = _admin(request)
    body = validate(await read_json(request, limit=64 * 1024), TenantBody)
    record = await gateway_of(request).org_admin.create_tenant(body.name, limits=body.limits,
                                                               actor=actor_of(caller))
    return json_response(record.public(), status=201)


async def create_team(request: Request) -> Response:
    caller = _admin(request)
    body = validate(await read_json(request, limit=64 * 1024), TeamBody)
    record = await gateway_of(request).org_admin.create_team(body.tenant, body.name,
                                                             limits=body.limits,
                                                             actor=actor_of(caller))
    return json_response(record.public(), status=201)


async def create_app(request: Request) -> Response:
    caller = _admin(request)
    body = validate(await read_json(request, limit=64 * 1024), AppBody)
    org = gateway_of(request).org_admin
    record = await org.create_app(body.team, body.name, limits=body.limits, tags=body.tags,
                                  fail_mode=body.fail_mode, settings=body.settings,
                                  risk_class=body.risk_class,
                                  data_classification=body.data_classification,
                                  actor=actor_of(caller))
    return json_response({**record.public(), "path": org.directory.path(record.id)}, status=201)


async def update_app(request: Request) -> Response:
    """PATCH /admin/apps/{app}: risk class and data classification (app: path or id)."""
    caller = _admin(request)
    body = validate(await read_json(request, limit=64 * 1024), AppUpdateBody)
    org = gateway_of(request).org_admin
    _, after = await org.update_app(request.path_params["app"], risk_class=body.risk_class,
                                    data_classification=body.data_classification,
                                    actor=actor_of(caller))
    return json_response({**after.public(), "path": org.directory.path(after.id)})


async def list_org(request: Request) -> Response:
    """Tenants, teams and apps in one answer (the organisation is small); a tenant admin
    sees its own tenant only."""
    only = reader_tenant(request)
    directory = gateway_of(request).org_admin.directory
    await directory.refresh()
    tenants = [t for t in directory.tenants.values() if only in (None, t.id)]
    teams = [t for t in directory.teams.values() if only in (None, t.tenant_id)]
    team_ids = {t.id for t in teams}
    apps = [a for a in directory.apps.values() if a.team_id in team_ids]
    return json_response({
        "tenants": [t.public() for t in tenants],
        "teams": [t.public() for t in teams],
        "apps": [{**a.public(), "path": directory.path(a.id)} for a in apps],
    })
