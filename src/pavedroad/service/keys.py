"""Key management use cases: create (plaintext shown once), list, revoke."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pavedroad.audit.record import AdminAudit
from pavedroad.core.apikeys import generate_key
from pavedroad.core.errors import InvalidRequest, NotFound
from pavedroad.core.ids import new_id
from pavedroad.service.auth import KeyCache
from pavedroad.service.org import OrgDirectory, check_limits
from pavedroad.store.keys import KeyRecord, KeyRepository
from pavedroad.store.org import DEFAULT_APP

ROLES = ("caller", "tenant_admin")


@dataclass(slots=True, frozen=True)
class CreatedKey:
    record: KeyRecord
    plaintext: str


class KeyAdmin:
    def __init__(
        self, repository: KeyRepository, directory: OrgDirectory, *,
        cache: KeyCache | None = None, known_models: Iterable[str] | None = None,
        audit: AdminAudit | None = None,
    ) -> None:
        self._audit = audit
        self._repository = repository
        self._directory = directory
        self._cache = cache
        self._known = set(known_models) if known_models is not None else None

    async def create(
        self,
        *,
        name: str,
        models: list[str] | None = None,
        app: str | None = None,
        expires_in: float | None = None,
        metadata: dict[str, str] | None = None,
        limits: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        role: str = "caller",
        actor: str = "cli",
    ) -> CreatedKey:
        """`role: tenant_admin` makes a key that reads its app's tenant through the admin
        API (audit, ledger, spend, budgets, organisation) and nothing else there."""
        if not name.strip():
            raise InvalidRequest("a key needs a non-empty `name`", param="name")
        if models is not None and self._known is not None:
            unknown = sorted(set(models) - self._known)
            if unknown:
                raise InvalidRequest(
                    f"unknown model(s) {', '.join(unknown)}; configured: "
                    f"{', '.join(sorted(self._known))}", param="models")
        if expires_in is not None and expires_in <= 0:
            raise InvalidRequest("`expires_in` must be a positive number of seconds",
                                 param="expires_in")
        role = role.replace("-", "_")
        if role not in ROLES:
            raise InvalidRequest("role must be `caller` or `tenant_admin`", param="role")
        if role == "tenant_admin" and not app:
            raise InvalidRequest("a tenant_admin key names the app (tenant/team/app) whose "
                                 "tenant it may read", param="app")
        await self._directory.refresh()
        owner = self._directory.app(app) if app else self._directory.app(DEFAULT_APP)
        plaintext, digest, prefix = generate_key()
        now = time.time()
        record = KeyRecord(
            id=new_id("key"), name=name.strip(), key_hash=digest, key_prefix=prefix,
            models=tuple(models) if models is not None else None, app_id=owner.id,
            created_at=now, expires_at=now + expires_in if expires_in else None,
            revoked_at=None, updated_at=now, metadata=dict(metadata or {}),
            limits=check_limits(limits), tags=dict(tags or {}), role=role,
        )
        await self._repository.insert(record)
        if self._cache is not None:
            self._cache.remember(record)
        await self._audited(actor, "key.create", record, None, record.public())
        return CreatedKey(record, plaintext)

    async def list(self, *, include_revoked: bool = False) -> list[KeyRecord]:
        return await self._repository.all(include_revoked=include_revoked)

    async def revoke(self, ident: str, *, actor: str = "cli") -> KeyRecord:
        found = await self._repository.find(ident)
        if found is None:
            raise NotFound(f"no key with id or unique name {ident!r}")
        revoked = await self._repository.revoke(found.id)
        if revoked is None:
            raise NotFound(f"key {found.id} is already revoked")
        if self._cache is not None:
            self._cache.remember(revoked)
        await self._audited(actor, "key.revoke", revoked, found.public(), revoked.public())
        return revoked

    async def _audited(self, actor: str, action: str, record: KeyRecord, before: Any,
                       after: Any) -> None:
        if self._audit is None:
            return
        chain = self._directory.chain(record.app_id)
        await self._audit.admin_action(actor=actor, action=action, target=record.id,
                                       before=before, after=after,
                                       tenant_id=chain[2].id if chain else None)
