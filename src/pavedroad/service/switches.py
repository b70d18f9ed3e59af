"""Kill-switch and safe-mode use cases: switch a scope off and on, or into safe mode."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from pavedroad.core.errors import InvalidRequest
from pavedroad.routing.switches import GLOBAL_NAME, SAFE_PREFIX, SAFE_SCOPES, SCOPES, KillSwitches
from pavedroad.store.switches import SwitchRecord, SwitchRepository

log = logging.getLogger("pavedroad.switches")


class AdminAudit(Protocol):
    """The audit trail's admin hook (audit/record.py has the same shape)."""

    async def admin_action(self, *, actor: str, action: str, target: str,
                           before: Any, after: Any, tenant_id: str | None = None) -> None: ...


class SwitchAdmin:
    def __init__(
        self,
        repository: SwitchRepository,
        *,
        known: dict[str, set[str]],
        live: KillSwitches | None = None,
        resolve_app: Callable[[str], str] | None = None,
        audit: AdminAudit | None = None,
    ) -> None:
        self._repository = repository
        self._known = known
        self._live = live
        self._resolve_app = resolve_app  # app path or id -> id (raises NotFound)
        self.audit = audit

    def _name(self, scope: str, name: str) -> str:
        if scope == "global":
            if name != GLOBAL_NAME:
                raise InvalidRequest(f"the global scope is named {GLOBAL_NAME!r}", param="name")
            return name
        if scope == "app":
            if self._resolve_app is None:
                raise InvalidRequest("apps cannot be resolved here", param="name")
            return self._resolve_app(name)
        names = self._known.get(scope, set())
        if name not in names:
            raise InvalidRequest(
                f"unknown {scope} {name!r}; known: {', '.join(sorted(names)) or 'none'}",
                param="name")
        return name

    async def set(
        self, scope: str, name: str, *, disabled: bool, reason: str = "", by: str = "admin"
    ) -> None:
        if scope not in SCOPES:
            raise InvalidRequest(f"scope must be one of {', '.join(SCOPES)}", param="scope")
        await self._put(scope, self._name(scope, name), on=disabled, reason=reason, by=by,
                        action="kill_switch")

    async def set_safe_mode(
        self, scope: str, name: str, *, enabled: bool, reason: str = "", by: str = "admin"
    ) -> None:
        if scope not in SAFE_SCOPES:
            raise InvalidRequest(f"safe mode scope must be one of {', '.join(SAFE_SCOPES)}",
                                 param="scope")
        await self._put(SAFE_PREFIX + scope, self._name(scope, name), on=enabled,
                        reason=reason, by=by, action="safe_mode")

    async def _put(self, scope: str, name: str, *, on: bool, reason: str, by: str,
                   action: str) -> None:
        before = {(r.scope, r.name): r.disabled for r in await self._repository.all()}
        await self._repository.put(scope, name, disabled=on, reason=reason, by=by)
        await self.reload()
        if self.audit is not None:
            try:
                await self.audit.admin_action(
                    actor=by, action=action, target=f"{scope}/{name}",
                    before={"on": before.get((scope, name), False)},
                    after={"on": on, "reason": reason})
            except Exception:  # the change happened; a failing audit hook is logged loudly
                log.exception("admin audit of %s %s/%s failed", action, scope, name)

    async def reload(self) -> None:
        if self._live is not None:
            self._live.replace(await self._repository.disabled())

    async def list(self) -> list[SwitchRecord]:
        return await self._repository.all()
