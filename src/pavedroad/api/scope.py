"""Who may read which admin data: the master key everything, a tenant admin its tenant.

A `tenant_admin` key (see `pavedroad keys create --role tenant-admin`) is bound to the
tenant of its app. Every admin read endpoint asks `reader_tenant` which tenant to filter
by; `None` means all (the master key). Plain caller keys get `permission_denied`.
"""

from __future__ import annotations

from starlette.requests import Request

from pavedroad.api.context import caller_of, gateway_of
from pavedroad.core.errors import NotFound, PermissionDenied
from pavedroad.core.types import Caller

DENIED = ("this endpoint needs the admin master key (PAVEDROAD_MASTER_KEY) or a tenant "
          "admin key")


def reader_tenant(request: Request) -> str | None:
    """The tenant id this caller's admin reads are limited to; None: every tenant."""
    caller = caller_of(request)
    if caller.is_admin:
        return None
    if caller.tenant_admin and caller.tenant is not None:
        return caller.tenant.id
    raise PermissionDenied(DENIED)


def actor_of(caller: Caller) -> str:
    """How the audit trail names who made an admin change: the key's id."""
    return f"key:{caller.key_id}"


async def readable_app(request: Request, ref: str | None, tenant: str | None) -> str | None:
    """The id of app `ref` (path or id) for a reader limited to `tenant` (None: any);
    None when no app was asked for. Another tenant's app is 404, like no app at all."""
    if not ref:
        return None
    directory = gateway_of(request).org_admin.directory
    await directory.refresh()
    try:
        app = directory.app(ref)
        chain = directory.chain(app.id)
        if tenant is not None and (chain is None or chain[2].id != tenant):
            raise NotFound("")
    except NotFound:
        raise NotFound(f"no app {ref!r}", param="app") from None
    return app.id
