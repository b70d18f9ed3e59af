"""Authentication from memory: keys are cached and refreshed, never queried per request."""

from __future__ import annotations

import hmac
import time

from pavedroad.core.apikeys import hash_key
from pavedroad.core.errors import (
    ExpiredAPIKey,
    InvalidAPIKey,
    MissingAPIKey,
    RevokedAPIKey,
    ServiceUnavailable,
)
from pavedroad.core.types import Caller, Limits
from pavedroad.service.org import OrgDirectory, subject
from pavedroad.store.keys import KeyRecord, KeyRepository

# Rows written by another replica with a slightly older clock are still picked up.
_CLOCK_SLACK = 5.0


class KeyCache:
    def __init__(
        self, repository: KeyRepository, directory: OrgDirectory, *, master_key: str | None
    ) -> None:
        self._repository = repository
        self.directory = directory
        self._directory_version = -1
        self._master_hash = hash_key(master_key) if master_key else None
        self._by_hash: dict[str, KeyRecord] = {}
        self._hash_of_id: dict[str, str] = {}
        self._callers: dict[str, Caller] = {}
        self._high_water = 0.0
        self.master = Caller(key_id="master", name="master", models=None, is_admin=True)

    async def refresh(self) -> int:
        """Pull the organisation and keys changed since the last refresh; how many changed."""
        org_changes = await self.directory.refresh()
        changed = await self._repository.changed_since(self._high_water - _CLOCK_SLACK)
        for record in changed:
            self.remember(record)
        return org_changes + len(changed)

    def remember(self, record: KeyRecord) -> None:
        self._by_hash[record.key_hash] = record
        self._hash_of_id[record.id] = record.key_hash
        self._callers.pop(record.key_hash, None)
        self._high_water = max(self._high_water, record.updated_at)

    def authenticate(self, token: str | None) -> Caller:
        if not token:
            raise MissingAPIKey(
                "no API key: send `Authorization: Bearer <key>` (or `x-api-key: <key>`)")
        digest = hash_key(token)
        if self._master_hash is not None and hmac.compare_digest(digest, self._master_hash):
            return self.master
        return self._resolve(digest)

    def by_id(self, key_id: str) -> Caller:
        """The caller of a key named by its id, as `authenticate` would resolve its secret
        now (revoked or expired keys raise): a dashboard session holds the id, never the
        key, and still ends when the key does."""
        if key_id == self.master.key_id:
            return self.master
        return self._resolve(self._hash_of_id.get(key_id, ""))

    def _resolve(self, digest: str) -> Caller:
        record = self._by_hash.get(digest)
        if record is None:
            raise InvalidAPIKey("the API key is not valid; check it or create one with "
                                "`pavedroad keys create`")
        if record.revoked_at is not None:
            raise RevokedAPIKey(f"the API key {record.key_prefix}… was revoked")
        if record.expires_at is not None and record.expires_at <= time.time():
            raise ExpiredAPIKey(f"the API key {record.key_prefix}… has expired")
        if self._directory_version != self.directory.version:
            self._callers.clear()  # an app, team or tenant changed: rebuild lazily
            self._directory_version = self.directory.version
        caller = self._callers.get(digest)
        if caller is None:
            caller = self._caller(record)
            self._callers[digest] = caller
        return caller

    def _caller(self, record: KeyRecord) -> Caller:
        chain = self.directory.chain(record.app_id)
        if chain is None:
            raise ServiceUnavailable("this key's app is not loaded yet; retry in a second")
        app, team, tenant = chain
        return Caller(
            key_id=record.id, name=record.name,
            models=frozenset(record.models) if record.models is not None else None,
            team=team.name, metadata=record.metadata, key_limits=Limits.from_dict(record.limits),
            app=subject(app), team_subject=subject(team), tenant=subject(tenant),
            tags={**app.tags, **record.tags}, fail_open=app.fail_mode == "open",
            tenant_admin=record.role == "tenant_admin",
        )
