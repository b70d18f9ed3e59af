"""Authentication from the in-memory key cache."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pavedroad.core.apikeys import KEY_PREFIX, generate_key, hash_key
from pavedroad.core.errors import (
    ExpiredAPIKey,
    InvalidAPIKey,
    MissingAPIKey,
    RevokedAPIKey,
)
from pavedroad.service.auth import KeyCache
from pavedroad.service.org import OrgDirectory
from pavedroad.store.keys import KeyRecord
from pavedroad.store.org import AppRecord, OrgChanges, TeamRecord, TenantRecord


class NoOrgChanges:
    async def changed_since(self, since: float) -> OrgChanges:
        return OrgChanges([], [], [])


def directory() -> OrgDirectory:
    org = OrgDirectory(NoOrgChanges())  # type: ignore[arg-type]
    org.remember_tenant(TenantRecord("ten_default", "acme", {"rpm": 100}, 1.0))
    org.remember_team(TeamRecord("team_default", "ten_default", "search", {}, 1.0))
    org.remember_app(AppRecord("app_default", "team_default", "bot", {}, {"env": "prod"},
                               "closed", 1.0))
    return org


class Repo:
    def __init__(self) -> None:
        self.rows: list[KeyRecord] = []
        self.asked: list[float] = []

    async def changed_since(self, since: float) -> list[KeyRecord]:
        self.asked.append(since)
        return [r for r in self.rows if r.updated_at > since]


def record(plaintext: str, **fields: Any) -> KeyRecord:
    base: dict[str, Any] = dict(id="key_1", name="app", key_hash=hash_key(plaintext),
                                key_prefix=plaintext[:10], models=("fast",), app_id="app_default",
                                created_at=1.0, expires_at=None, revoked_at=None,
                                updated_at=time.time())
    base.update(fields)
    return KeyRecord(**base)


def test_generated_keys_are_random_and_hash_stably() -> None:
    a, a_hash, prefix = generate_key()
    b, _, _ = generate_key()
    assert a != b and a.startswith(KEY_PREFIX) and len(a) > 40
    assert hash_key(a) == a_hash and a_hash != a and prefix == a[:10]


async def test_states_of_a_key() -> None:
    repo = Repo()
    cache = KeyCache(repo, directory(), master_key="sk-master")  # type: ignore[arg-type]
    with pytest.raises(MissingAPIKey):
        cache.authenticate(None)
    with pytest.raises(InvalidAPIKey):
        cache.authenticate("sk-unknown")
    assert cache.authenticate("sk-master").is_admin

    repo.rows.append(record("sk-good"))
    assert await cache.refresh() == 1
    caller = cache.authenticate("sk-good")
    assert caller.name == "app" and caller.models == frozenset({"fast"}) and not caller.is_admin
    assert caller.may_use("fast") and not caller.may_use("reasoning")
    assert caller.team == "search" and caller.app is not None and caller.app.name == "bot"
    assert caller.tenant is not None and caller.tenant.limits.rpm == 100
    assert caller.tags == {"env": "prod"} and caller.fail_open is False

    repo.rows[0] = record("sk-good", revoked_at=time.time(), updated_at=time.time() + 1)
    await cache.refresh()
    with pytest.raises(RevokedAPIKey):
        cache.authenticate("sk-good")

    cache.remember(record("sk-old", id="key_2", expires_at=time.time() - 1))
    with pytest.raises(ExpiredAPIKey):
        cache.authenticate("sk-old")


async def test_refresh_is_incremental_with_slack() -> None:
    repo = Repo()
    cache = KeyCache(repo, directory(), master_key=None)  # type: ignore[arg-type]
    repo.rows.append(record("sk-a", updated_at=1000.0))
    await cache.refresh()
    await cache.refresh()
    assert repo.asked[0] < 0 and repo.asked[1] == pytest.approx(995.0)
