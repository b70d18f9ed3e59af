"""A keyed chain (`audit.hmac_key`): someone who can write the database but does not hold
the key cannot rewrite history into a chain that verifies; exports say they are keyed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.audit.chain import canonical, checkpoint_hash, record_hash, sha256
from pavedroad.audit.export import check_export, export
from pavedroad.audit.record import admin_record
from pavedroad.audit.trail import audit_key, verify_chain
from pavedroad.cli.main import cli
from pavedroad.config.loader import ConfigError
from pavedroad.config.models import Settings
from pavedroad.store.audit import AuditRepository
from pavedroad.store.database import create_engine, migrate

KEY = b"k3y-held-outside-the-database"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite:///{tmp_path}/audit.db"
    await asyncio.to_thread(migrate, url)
    made = create_engine(url)
    yield made
    await made.dispose()


async def _fill(repo: AuditRepository, count: int = 5) -> None:
    for n in range(count):
        await repo.append([admin_record(actor="cli", action="test", target=f"t{n}",
                                        before=None, after={"n": n}, retention_days=30)])


async def _rewrite_without_the_key(engine: AsyncEngine, seq: int) -> None:
    """What an attacker with database access does: edit one record, then recompute every
    hash from it to the head with plain SHA-256, so the chain links up again."""
    async with engine.begin() as conn:
        rows = [dict(r) for r in (await conn.execute(sa.text(
            "SELECT * FROM audit_records WHERE seq >= :s ORDER BY seq"), {"s": seq})).mappings()]
        prev = (await conn.execute(sa.text("SELECT hash FROM audit_records WHERE seq = :s"),
                                   {"s": seq - 1})).scalar_one()
        for row in rows:
            if row["seq"] == seq:
                row["content"] = row["content"].replace('"n":2', '"n":200')
                row["content_sha256"] = sha256(row["content"].encode())
            row["prev_hash"] = prev
            row["hash"] = prev = record_hash(row)
            await conn.execute(sa.text(
                "UPDATE audit_records SET content = :c, content_sha256 = :cs, prev_hash = :p, "
                "hash = :h WHERE seq = :s"), {"c": row["content"], "cs": row["content_sha256"],
                                               "p": row["prev_hash"], "h": row["hash"],
                                               "s": row["seq"]})
        await conn.execute(sa.text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})


async def test_an_unkeyed_chain_cannot_tell_a_consistent_rewrite(engine: AsyncEngine) -> None:
    repo = AuditRepository(engine)
    await _fill(repo)
    await _rewrite_without_the_key(engine, 3)
    assert (await verify_chain(repo)).ok  # why the key exists


async def test_a_keyed_chain_names_the_rewritten_record(engine: AsyncEngine) -> None:
    repo = AuditRepository(engine, key=KEY)
    await _fill(repo)
    assert (await verify_chain(repo)).ok
    await _rewrite_without_the_key(engine, 3)
    verdict = await verify_chain(repo)
    assert not verdict.ok and verdict.bad_seq == 3
    assert "audit.hmac_key" in (verdict.reason or "")
    # ... and the wrong key fails from the first record.
    wrong = await verify_chain(AuditRepository(engine, key=b"another"))
    assert not wrong.ok


async def test_keyed_exports_need_the_key_offline(engine: AsyncEngine, tmp_path: Path) -> None:
    repo = AuditRepository(engine, key=KEY)
    await _fill(repo)
    done = await export(repo, tmp_path / "out", since=None, until=None)
    assert done.manifest["keyed"] is True
    assert check_export(tmp_path / "out", key=KEY) == []
    assert "keyed" in check_export(tmp_path / "out")[0]
    assert check_export(tmp_path / "out", key=b"another")  # every hash differs


def test_checkpoint_and_record_hashes_depend_on_the_key() -> None:
    header: dict[str, Any] = {"seq": 1, "prev_hash": "0" * 64, "id": "a", "kind": "admin",
                              "at": 1.0, "tenant_id": None, "app_id": None,
                              "retain_until": None, "content_sha256": sha256(canonical({}))}
    assert record_hash(header) != record_hash(header, KEY) != record_hash(header, b"x")
    assert checkpoint_hash(0, "0" * 64) != checkpoint_hash(0, "0" * 64, KEY)


def test_the_key_is_a_secret_reference(tmp_path: Path) -> None:
    settings = Settings.model_validate({"audit": {"hmac_key": "env:AUDIT_KEY"}})
    assert audit_key(settings, {"AUDIT_KEY": "s3cret"}) == b"s3cret"
    assert audit_key(Settings()) is None
    with pytest.raises(ConfigError, match=r"audit\.hmac_key"):
        audit_key(settings, {})


def test_cli_verify_uses_the_configured_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    config = tmp_path / "pavedroad.yaml"
    config.write_text(f'store: {{url: "{url}"}}\naudit: {{hmac_key: "env:AUDIT_KEY"}}\n')
    migrate(url)

    async def seed() -> None:
        made = create_engine(url)
        await _fill(AuditRepository(made, key=b"s3cret"))
        await made.dispose()

    asyncio.run(seed())
    runner = CliRunner()
    good = runner.invoke(cli, ["audit", "verify", "--config", str(config)],
                         env={"AUDIT_KEY": "s3cret"})
    assert good.exit_code == 0, good.output
    bad = runner.invoke(cli, ["audit", "verify", "--config", str(config)],
                        env={"AUDIT_KEY": "not-it"})
    assert bad.exit_code == 1 and "audit.hmac_key" in bad.output


def test_a_gateway_with_a_key_chains_its_requests_with_it(
    sim: Any, gateway_factory: Any, tmp_path: Path,
) -> None:
    import json
    import time

    from tests.integration.test_audit import chat, verify, wait_for
    from tests.support.servers import MASTER_KEY

    gw = gateway_factory(json.dumps({
        "store": {"url": "{db}"},
        "audit": {"flush_seconds": 0.05, "hmac_key": "env:AUDIT_KEY"},
        "deployments": [{"name": "oa", "provider": "openai_compatible", "model": "gpt-4o-mini",
                         "api_base": f"{sim.url}/v1", "region": "local"}],
        "models": [{"name": "gpt-4o-mini", "route": "oa"}],
    }), env={"AUDIT_KEY": "s3cret"})
    ids = [chat(gw, MASTER_KEY).headers["x-pavedroad-request-id"] for _ in range(3)]
    wait_for(gw, ids)  # written by the flusher thread, with its own repository
    assert verify(gw).json()["ok"] is True
    url = f"sqlite:///{gw.config_path.parent}/pavedroad.db"

    async def unkeyed() -> bool:
        made = create_engine(url)
        try:
            return (await verify_chain(AuditRepository(made))).ok
        finally:
            await made.dispose()

    time.sleep(0.1)
    assert asyncio.run(unkeyed()) is False  # the stored hashes are HMACs, not plain SHA-256
