"""Kill-switch use cases: switch a deployment, model or provider kind off and on."""

from __future__ import annotations

from pavedroad.core.errors import InvalidRequest
from pavedroad.routing.switches import SCOPES, KillSwitches
from pavedroad.store.switches import SwitchRecord, SwitchRepository


class SwitchAdmin:
    def __init__(
        self,
        repository: SwitchRepository,
        *,
        known: dict[str, set[str]],
        live: KillSwitches | None = None,
    ) -> None:
        self._repository = repository
        self._known = known
        self._live = live

    async def set(
        self, scope: str, name: str, *, disabled: bool, reason: str = "", by: str = "admin"
    ) -> None:
        if scope not in SCOPES:
            raise InvalidRequest(f"scope must be one of {', '.join(SCOPES)}", param="scope")
        names = self._known.get(scope, set())
        if name not in names:
            raise InvalidRequest(
                f"unknown {scope} {name!r}; known: {', '.join(sorted(names)) or 'none'}",
                param="name")
        await self._repository.put(scope, name, disabled=disabled, reason=reason, by=by)
        await self.reload()

    async def reload(self) -> None:
        if self._live is not None:
            self._live.replace(await self._repository.disabled())

    async def list(self) -> list[SwitchRecord]:
        return await self._repository.all()
