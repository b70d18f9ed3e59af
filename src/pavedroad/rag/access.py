"""Who may see and manage which collection.

The master key (and trusted in-process code, which passes no caller) sees everything; a
tenant admin key sees and manages its tenant's collections; any other key sees only the
collections shared with its app, and manages none. A collection a key may not see does
not exist for it: `collection_not_found`, never a hint that it is there.
"""

from __future__ import annotations

from pavedroad.core.errors import PermissionDenied
from pavedroad.core.types import Caller
from pavedroad.rag.repository import CollectionRecord

MANAGE_DENIED = ("managing collections needs the admin master key (PAVEDROAD_MASTER_KEY) or "
                 "a tenant admin key")


def can_read(caller: Caller | None, collection: CollectionRecord) -> bool:
    if caller is None or caller.is_admin:
        return True
    if caller.tenant_admin and caller.tenant is not None:
        return caller.tenant.id == collection.tenant_id
    return caller.app is not None and caller.app.id in collection.apps


def manage_tenant(caller: Caller | None) -> str | None:
    """The tenant a caller may manage collections of; None: every tenant."""
    if caller is None or caller.is_admin:
        return None
    if caller.tenant_admin and caller.tenant is not None:
        return caller.tenant.id
    raise PermissionDenied(MANAGE_DENIED)


def check_manage(caller: Caller | None, collection: CollectionRecord) -> None:
    only = manage_tenant(caller)
    if only is not None and only != collection.tenant_id:
        raise PermissionDenied(MANAGE_DENIED)
