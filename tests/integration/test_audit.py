"""The audit trail through the real gateway: one record per request, content per logging
level, admin actions with before/after (HTTP and CLI), verify, prune and export."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import pavedroad.policy
from pavedroad.audit.chain import GENESIS, canonical, record_hash, sha256
from pavedroad.cli.main import cli
from tests.support.servers import MASTER_KEY, RunningGateway, Sim

pytestmark = pytest.mark.timeout(60)

GatewayFactory = Callable[..., RunningGateway]
MODEL = "gpt-4o-mini"
SECRET = "my card is 4111 1111 1111 1111, mail ann@example.com"


def config(sim: Sim, *, policy: Path | None = None, **audit: Any) -> str:
    return json.dumps({
        "store": {"url": "{db}"},
        **({"policy": {"path": str(policy)}} if policy else {}),
        "metering": {"ledger": {"flush_seconds": 0.05}},
        "audit": {"flush_seconds": 0.05, **audit},
        "deployments": [{"name": "oa", "provider": "openai_compatible", "model": "gpt-4o-mini",
                         "api_base": f"{sim.url}/v1", "retries": {"attempts": 0},
                         "region": "local"}],
        # Named like an approved model: high-risk apps may use it under the default policy.
        "models": [{"name": MODEL, "route": "oa"}],
    })


def chat(gw: RunningGateway, key: str, *, stream: bool = False,
         text: str = "ping") -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}], "stream": stream}
    response = httpx.post(f"{gw.url}/v1/chat/completions", json=body, timeout=15,
                          headers={"authorization": f"Bearer {key}"})
    response.raise_for_status()
    return response


def records(gw: RunningGateway, key: str = MASTER_KEY, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = None
    with gw.client(key) as client:
        while True:
            query = {"limit": 1000, **params, **({"after": after} if after else {})}
            page = client.get("/admin/audit", params=query)
            page.raise_for_status()
            out += page.json()["data"]
            if len(page.json()["data"]) < 1000:
                return out
            after = page.json()["next"]


def wait_for(gw: RunningGateway, ids: list[str], timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = {r["id"]: r for r in records(gw)}
        if all(i in found for i in ids):
            return found
        assert time.monotonic() < deadline, f"no audit records for {ids}"
        time.sleep(0.05)


def db_path(gw: RunningGateway) -> Path:
    return gw.config_path.parent / "pavedroad.db"


def verify(gw: RunningGateway) -> httpx.Response:
    with gw.client() as client:
        return client.get("/admin/audit/verify")


# The shipped default policy: minimal risk logs metadata, limited risk redacted content,
# restricted data metadata only; `full` needs a policy that asks for it.
LEVELS = {"full": {}, "redacted": {"risk_class": "limited"},
          "metadata": {"risk_class": "high", "data_classification": "restricted"}}


def full_logging_policy(tmp_path: Path) -> Path:
    """The shipped policy without its rule that keeps minimal-risk apps to metadata."""
    shipped = (Path(pavedroad.policy.__file__).parent / "default.yaml").read_text()
    start = shipped.index("  - id: minimal-metadata-logging")
    end = shipped.index("  - id: limited-guardrails")
    path = tmp_path / "full-logging.yaml"
    path.write_text(shipped[:start] + shipped[end:])
    return path


@pytest.mark.parametrize("level", list(LEVELS))
def test_one_record_per_request_with_content_per_policy_level(
    sim: Sim, gateway_factory: GatewayFactory, level: str, tmp_path: Path,
) -> None:
    policy = full_logging_policy(tmp_path) if level == "full" else None
    gw = gateway_factory(config(sim, policy=policy))
    gw.ensure_app("acme/search/bot", **LEVELS[level])
    key = gw.create_key(app="acme/search/bot")
    plain = chat(gw, key, text=SECRET)
    streamed = chat(gw, key, stream=True, text=SECRET)
    ids = [r.headers["x-pavedroad-request-id"] for r in (plain, streamed)]
    found = wait_for(gw, ids)
    directory = gw.gateway.org_admin.directory
    app = directory.app("acme/search/bot")
    assert gw.gateway.audit is not None
    # Without a PII redactor (the `pii` guardrail) `redacted` stores no content at all.
    stored = "metadata" if level == "redacted" and gw.gateway.audit.redactor is None else level
    for rid in ids:
        record = found[rid]
        assert record["kind"] == "request" and record["outcome"] == "ok"
        assert record["app_id"] == app.id and record["key_id"].startswith("key_")
        assert record["tenant_id"] == directory.teams[app.team_id].tenant_id
        assert record["model"] == MODEL and record["deployment"] == "oa"
        assert record["usage"]["prompt_tokens"] > 0 and record["route"]
        assert record["level"] == stored
        assert record["policy"]["explanation"]  # the decision, explained
        assert record["policy"]["decision"]["logging"] == level
        assert [r["id"] for r in records(gw)].count(rid) == 1
    text = json.dumps([found[i] for i in ids])
    if level == "full":
        for rid in ids:
            content = found[rid]["content"]
            assert content["messages"][0]["content"] == SECRET
            assert content["answer"]  # the simulator's answer text
        return
    assert "4111 1111 1111 1111" not in text and "ann@example.com" not in text
    if stored == "metadata":
        assert all(found[i]["content"] is None for i in ids)
    else:
        assert "<EMAIL_1>" in found[ids[0]]["content"]["messages"][0]["content"]
        assert found[ids[0]]["findings"]  # categories and scores, never the text
        assert {f["category"] for f in found[ids[0]]["findings"]} >= {"EMAIL"}
    assert verify(gw).json()["ok"] is True


def test_admin_actions_record_who_what_before_and_after(
    sim: Sim, gateway_factory: GatewayFactory,
) -> None:
    gw = gateway_factory(config(sim))
    gw.ensure_app("acme/search/bot")
    with gw.client() as client:
        created = client.post("/admin/keys", json={"name": "k1", "app": "acme/search/bot"})
        key_id = created.json()["id"]
        client.delete(f"/admin/keys/{key_id}").raise_for_status()
        client.post("/admin/switches", json={"scope": "deployment", "name": "oa",
                                             "disabled": True, "reason": "test"})
        budget = client.post("/admin/budgets", json={"scope": "app",
                                                     "subject": "acme/search/bot",
                                                     "amount": 5}).json()
        client.post("/admin/budgets", json={"scope": "app", "subject": "acme/search/bot",
                                            "amount": 7}).raise_for_status()
        client.delete(f"/admin/budgets/{budget['id']}").raise_for_status()
    admin = [r for r in records(gw) if r["kind"] == "admin"]
    actions = [r["action"] for r in admin]
    for expected in ("tenant.create", "team.create", "app.create", "key.create", "key.revoke",
                     "budget.set", "budget.delete"):
        assert expected in actions, expected
    assert any(a in actions for a in ("switch.set", "kill_switch"))
    revoke = next(r for r in admin if r["action"] == "key.revoke")
    assert revoke["target"] == key_id
    assert revoke["before"]["revoked_at"] is None and revoke["after"]["revoked_at"] is not None
    assert all(r["actor"] in ("key:master", "master") for r in admin)
    sets = [r for r in admin if r["action"] == "budget.set"]
    assert sets[0]["before"] is None and sets[0]["after"]["amount"] == 5
    assert sets[1]["before"]["amount"] == 5 and sets[1]["after"]["amount"] == 7
    deleted = next(r for r in admin if r["action"] == "budget.delete")
    assert deleted["before"]["amount"] == 7 and deleted["after"] is None
    secret = created.json()["key"]
    assert all(secret not in json.dumps(r) for r in admin)  # never the key itself
    # The CLI's changes are audited too, as actor "cli", in the same chain.
    runner = CliRunner()
    result = runner.invoke(cli, ["keys", "create", "--config", str(gw.config_path),
                                 "--name", "from-cli", "--app", "acme/search/bot"],
                           env={"PAVEDROAD_MASTER_KEY": MASTER_KEY})
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["tenants", "create", "--config", str(gw.config_path), "beta"])
    assert result.exit_code == 0, result.output
    cli_records = [r for r in records(gw) if r["kind"] == "admin" and r["actor"] == "cli"]
    assert {r["action"] for r in cli_records} >= {"key.create", "tenant.create"}
    assert verify(gw).json()["ok"] is True
    result = runner.invoke(cli, ["audit", "verify", "--config", str(gw.config_path)])
    assert result.exit_code == 0, result.output


def test_verify_names_an_edited_record_over_http_and_cli(
    sim: Sim, gateway_factory: GatewayFactory,
) -> None:
    gw = gateway_factory(config(sim))
    key = gw.create_key()
    ids = [chat(gw, key).headers["x-pavedroad-request-id"] for _ in range(3)]
    wait_for(gw, ids)
    with sqlite3.connect(db_path(gw)) as db:
        seq = db.execute("SELECT seq FROM audit_records WHERE id = ?", (ids[1],)).fetchone()[0]
        db.execute("UPDATE audit_records SET content = replace(content, '\"ok\"', "
                   "'\"error\"') WHERE seq = ?", (seq,))
    answer = verify(gw)
    assert answer.status_code == 409
    assert answer.json()["first_bad"]["seq"] == seq
    assert answer.json()["first_bad"]["id"] == ids[1]
    result = CliRunner().invoke(cli, ["audit", "verify", "--config", str(gw.config_path)])
    assert result.exit_code == 1
    assert f"record {seq}" in result.output and ids[1] in result.output


def test_tenant_admin_cannot_verify_and_plain_keys_cannot_read(
    sim: Sim, gateway_factory: GatewayFactory,
) -> None:
    gw = gateway_factory(config(sim))
    gw.ensure_app("acme/search/bot")
    admin = gw.create_key(app="acme/search/bot", role="tenant_admin")
    plain = gw.create_key(app="acme/search/bot")
    with gw.client(admin) as client:
        assert client.get("/admin/audit/verify").status_code == 403
        assert client.get("/admin/audit").status_code == 200
    with gw.client(plain) as client:
        assert client.get("/admin/audit").status_code == 403


def test_cli_export_writes_a_manifest_that_verifies_and_prune_keeps_verify_green(
    sim: Sim, gateway_factory: GatewayFactory, tmp_path: Path,
) -> None:
    gw = gateway_factory(config(sim))
    key = gw.create_key()
    ids = [chat(gw, key).headers["x-pavedroad-request-id"] for _ in range(3)]
    wait_for(gw, ids)
    runner = CliRunner()
    base = ["--config", str(gw.config_path)]
    out = tmp_path / "export"
    result = runner.invoke(cli, ["audit", "export", *base, "--from", "2000-01-01",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    lines = (out / manifest["file"]).read_text().splitlines()
    assert manifest["count"] == len(lines) >= 4  # the key's creation and three requests
    assert {json.loads(json.loads(line)["content"])["id"] for line in lines} >= set(ids)
    assert manifest["last_seq"] <= manifest["chain_head"]["seq"]
    result = runner.invoke(cli, ["audit", "verify", "--export", str(out)])
    assert result.exit_code == 0, result.output
    (out / manifest["file"]).write_text("\n".join(lines[1:]) + "\n")  # drop a record
    result = runner.invoke(cli, ["audit", "verify", "--export", str(out)])
    assert result.exit_code == 1 and "sha256" in result.output
    # Everything expires: prune drops it all but the checkpoint, and verify stays green.
    _expire_all(db_path(gw))
    result = runner.invoke(cli, ["audit", "verify", *base])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["audit", "prune", *base])
    assert result.exit_code == 0 and "deleted" in result.output, result.output
    answer = verify(gw).json()
    assert answer["ok"] and answer["base_seq"] >= len(lines)
    assert [r["kind"] for r in records(gw)] == ["prune"]


def _expire_all(path: Path) -> None:
    """Move every record's retention into the past and rewrite the chain to match: what a
    forger would have to do; here only to set up an expired chain quickly."""
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        prev = GENESIS
        for row in db.execute("SELECT * FROM audit_records ORDER BY seq").fetchall():
            content = canonical({**json.loads(row["content"]), "retain_until": 1.0}).decode()
            header = {**dict(row), "prev_hash": prev, "retain_until": 1.0, "content": content,
                      "content_sha256": sha256(content.encode())}
            prev = record_hash(header)
            db.execute("UPDATE audit_records SET prev_hash = ?, hash = ?, retain_until = 1.0, "
                       "content = ?, content_sha256 = ? WHERE seq = ?",
                       (header["prev_hash"], prev, content, header["content_sha256"],
                        row["seq"]))
        db.execute("UPDATE audit_head SET hash = ?", (prev,))
