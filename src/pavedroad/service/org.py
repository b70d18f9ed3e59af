"""The organisation: tenants -> teams -> apps -> keys, held in memory for the hot path.

Admin use cases create entries in the store; every gateway refreshes its `OrgDirectory`
incrementally, like keys, so resolving a key's app, team and tenant costs dict lookups.
Entries are named by path (`tenant/team/app`) or by id.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any, Literal

from pavedroad.audit.record import AdminAudit
from pavedroad.cache.policy import app_cache_settings
from pavedroad.config.policy import PolicyConfig
from pavedroad.core.errors import InvalidRequest, NotFound
from pavedroad.core.ids import new_id
from pavedroad.core.types import Limits, Subject
from pavedroad.store.org import AppRecord, OrgRepository, TeamRecord, TenantRecord

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_CLOCK_SLACK = 5.0
FailMode = Literal["open", "closed"]


def check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise InvalidRequest(f"{what} name {name!r}: use letters, digits and . _ - "
                             "(at most 100 characters, no slash)", param="name")
    return name


def check_limits(limits: dict[str, Any] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, value in (limits or {}).items():
        if key not in ("rpm", "tpm", "concurrent"):
            raise InvalidRequest(f"unknown limit {key!r}; use rpm, tpm or concurrent",
                                 param=f"limits.{key}")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidRequest(f"limit {key} must be a positive whole number",
                                 param=f"limits.{key}")
        out[key] = value
    return out


class OrgDirectory:
    """In-memory copy of the organisation, refreshed from the store."""

    def __init__(self, repository: OrgRepository) -> None:
        self._repository = repository
        self.tenants: dict[str, TenantRecord] = {}
        self.teams: dict[str, TeamRecord] = {}
        self.apps: dict[str, AppRecord] = {}
        self._high_water = 0.0
        self.version = 0  # bumps on every change, so derived caches know to rebuild

    async def refresh(self) -> int:
        changes = await self._repository.changed_since(self._high_water - _CLOCK_SLACK)
        for tenant in changes.tenants:
            self.remember_tenant(tenant)
        for team in changes.teams:
            self.remember_team(team)
        for app in changes.apps:
            self.remember_app(app)
        return len(changes)

    def _seen(self, updated_at: float, changed: bool) -> None:
        self._high_water = max(self._high_water, updated_at)
        if changed:
            self.version += 1

    def remember_tenant(self, record: TenantRecord) -> None:
        changed = self.tenants.get(record.id) != record
        self.tenants[record.id] = record
        self._seen(record.updated_at, changed)

    def remember_team(self, record: TeamRecord) -> None:
        changed = self.teams.get(record.id) != record
        self.teams[record.id] = record
        self._seen(record.updated_at, changed)

    def remember_app(self, record: AppRecord) -> None:
        changed = self.apps.get(record.id) != record
        self.apps[record.id] = record
        self._seen(record.updated_at, changed)

    def chain(self, app_id: str) -> tuple[AppRecord, TeamRecord, TenantRecord] | None:
        app = self.apps.get(app_id)
        team = self.teams.get(app.team_id) if app else None
        tenant = self.tenants.get(team.tenant_id) if team else None
        if app is None or team is None or tenant is None:
            return None
        return app, team, tenant

    def path(self, app_id: str) -> str:
        found = self.chain(app_id)
        return f"{found[2].name}/{found[1].name}/{found[0].name}" if found else app_id

    def tenant(self, ref: str) -> TenantRecord:
        for tenant in self.tenants.values():
            if ref in (tenant.id, tenant.name):
                return tenant
        raise NotFound(f"no tenant {ref!r}")

    def team(self, ref: str) -> TeamRecord:
        if ref in self.teams:
            return self.teams[ref]
        tenant_ref, _, name = ref.partition("/")
        if not name:
            raise NotFound(f"no team {ref!r}; name a team as tenant/team or by id")
        tenant = self.tenant(tenant_ref)
        for team in self.teams.values():
            if team.tenant_id == tenant.id and team.name == name:
                return team
        raise NotFound(f"no team {name!r} in tenant {tenant.name!r}")

    def app(self, ref: str) -> AppRecord:
        if ref in self.apps:
            return self.apps[ref]
        team_ref, _, name = ref.rpartition("/")
        if not team_ref:
            raise NotFound(f"no app {ref!r}; name an app as tenant/team/app or by id")
        team = self.team(team_ref)
        for app in self.apps.values():
            if app.team_id == team.id and app.name == name:
                return app
        raise NotFound(f"no app {name!r} in team {team_ref!r}")


def subject(record: TenantRecord | TeamRecord | AppRecord) -> Subject:
    return Subject(record.id, record.name, Limits.from_dict(record.limits))


class OrgAdmin:
    def __init__(self, repository: OrgRepository, directory: OrgDirectory, *,
                 vocabulary: PolicyConfig | None = None,
                 audit: AdminAudit | None = None) -> None:
        self._repository = repository
        self.directory = directory
        self._vocabulary = vocabulary or PolicyConfig()
        self._audit = audit

    async def _audited(self, actor: str, action: str, target: str, before: Any, after: Any,
                       tenant_id: str) -> None:
        if self._audit is not None:
            await self._audit.admin_action(actor=actor, action=action, target=target,
                                           before=before, after=after, tenant_id=tenant_id)

    def _classes(self, risk_class: str | None, data_classification: str | None,
                 ) -> tuple[str, str]:
        vocab = self._vocabulary
        risk = risk_class or vocab.default_risk_class
        data = data_classification or vocab.default_data_classification
        if risk not in vocab.risk_classes:
            raise InvalidRequest(f"risk_class must be one of {', '.join(vocab.risk_classes)}",
                                 param="risk_class")
        if data not in vocab.data_classifications:
            raise InvalidRequest("data_classification must be one of "
                                 f"{', '.join(vocab.data_classifications)}",
                                 param="data_classification")
        return risk, data

    async def create_tenant(self, name: str, *, limits: dict[str, Any] | None = None,
                            actor: str = "cli") -> TenantRecord:
        await self.directory.refresh()
        now = time.time()
        record = TenantRecord(new_id("ten"), check_name(name, "tenant"), check_limits(limits), now)
        await self._repository.add_tenant(record, now=now)
        self.directory.remember_tenant(record)
        await self._audited(actor, "tenant.create", record.id, None, record.public(),
                           record.id)
        return record

    async def create_team(self, tenant: str, name: str, *, limits: dict[str, Any] | None = None,
                          actor: str = "cli") -> TeamRecord:
        await self.directory.refresh()
        owner = self.directory.tenant(tenant)
        now = time.time()
        record = TeamRecord(new_id("team"), owner.id, check_name(name, "team"),
                            check_limits(limits), now)
        await self._repository.add_team(record, now=now)
        self.directory.remember_team(record)
        await self._audited(actor, "team.create", record.id, None, record.public(), owner.id)
        return record

    async def create_app(
        self, team: str, name: str, *, limits: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None, fail_mode: str = "open",
        settings: dict[str, Any] | None = None, risk_class: str | None = None,
        data_classification: str | None = None, actor: str = "cli",
    ) -> AppRecord:
        await self.directory.refresh()
        owner = self.directory.team(team)
        if fail_mode not in ("open", "closed"):
            raise InvalidRequest("fail_mode must be `open` or `closed`", param="fail_mode")
        app_cache_settings(settings)  # a typo must fail here, not be ignored per request
        risk, data = self._classes(risk_class, data_classification)
        now = time.time()
        record = AppRecord(new_id("app"), owner.id, check_name(name, "app"), check_limits(limits),
                           dict(tags or {}), fail_mode, now, dict(settings or {}), risk, data)
        await self._repository.add_app(record, now=now)
        self.directory.remember_app(record)
        await self._audited(actor, "app.create", record.id, None, record.public(),
                           owner.tenant_id)
        return record

    async def update_app(self, ref: str, *, risk_class: str | None = None,
                         data_classification: str | None = None, actor: str = "cli",
                         ) -> tuple[AppRecord, AppRecord]:
        """Change an app's risk class and/or data classification; (before, after)."""
        await self.directory.refresh()
        before = self.directory.app(ref)
        risk, data = self._classes(risk_class or before.risk_class,
                                   data_classification or before.data_classification)
        now = time.time()
        await self._repository.update_app(before.id, now=now, risk_class=risk,
                                          data_classification=data)
        after = replace(before, risk_class=risk, data_classification=data, updated_at=now)
        self.directory.remember_app(after)
        team = self.directory.teams.get(after.team_id)
        await self._audited(actor, "app.update", after.id, before.public(), after.public(),
                            team.tenant_id if team else "")
        return before, after
