"""Virtual keys and the kill switch, through the admin API and through the CLI.

The CLI runs as a separate process against the same sqlite database as the gateway, as
another operator or replica would; the gateway must pick its changes up without a
restart (it re-reads the store every `auth.refresh_seconds`, 0.5 s by default).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_gateway

ROOT = Path(__file__).resolve().parents[2]
CLI = str(ROOT / ".venv" / "bin" / "pavedroad")

CONFIG = """
store: {url: "{db}"}
deployments:
  - name: primary
    provider: openai_compatible
    model: up-primary
    api_base: {sim}/v1
  - name: backup
    provider: openai_compatible
    model: up-backup
    api_base: {sim}/v1
  - name: claude-dep
    provider: anthropic
    model: up-claude
    api_base: {sim}
  - name: embedder
    provider: openai_compatible
    model: up-embed
    api_base: {sim}/v1
models:
  - name: gpt
    route: {fallback: [primary, backup]}
  - name: solo
    route: primary
  - name: claude
    route: claude-dep
  - name: mixed
    route: {fallback: [claude-dep, backup]}
  - name: embed
    kind: embedding
    route: embedder
"""

HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gw(sim_session: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = start_gateway(CONFIG.replace("{sim}", sim_session.url),
                            tmp_path_factory.mktemp("keys-switches"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(gw: RunningGateway) -> Iterator[httpx.Client]:
    with gw.client() as client:
        yield client


@pytest.fixture
def switches(admin: httpx.Client) -> Iterator[httpx.Client]:
    """The admin client; every switch is turned back on afterwards."""
    yield admin
    for record in admin.get("/admin/switches").json()["data"]:
        if record["disabled"]:
            admin.post("/admin/switches", json={
                "scope": record["scope"], "name": record["name"], "disabled": False,
            }).raise_for_status()


def call(gw: RunningGateway, key: str, model: str = "gpt", **extra: Any) -> httpx.Response:
    with gw.client(key) as client:
        return client.post("/v1/chat/completions",
                           json={"model": model, "messages": HELLO, **extra})


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def eventually(check: Callable[[], bool], *, within: float = 2.0) -> float:
    """Poll `check` until it holds; returns how long that took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            pytest.fail(f"condition not met within {within}s")
        time.sleep(0.05)
    return time.monotonic() - started


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          check=False)


def set_switch(client: httpx.Client, scope: str, name: str, disabled: bool) -> httpx.Response:
    return client.post("/admin/switches",
                       json={"scope": scope, "name": name, "disabled": disabled,
                             "reason": "test"})


# --- keys -------------------------------------------------------------------------------


def test_admin_creates_a_key_that_works(gw: RunningGateway, admin: httpx.Client) -> None:
    app = gw.ensure_app("acme/search/assistant")
    response = admin.post("/admin/keys", json={"name": "svc-a", "app": app,
                                               "metadata": {"owner": "ana"}})
    assert response.status_code == 201
    created = response.json()
    key = created["key"]
    assert key.startswith("sk-pr-") and created["prefix"] == key[:10]
    assert created["id"].startswith("key_")
    assert created["models"] is None and created["app_id"].startswith("app_")
    unknown = admin.post("/admin/keys", json={"name": "svc-b", "team": "search"})
    assert unknown.status_code == 400 and "team" in unknown.json()["error"]["message"]
    assert created["metadata"] == {"owner": "ana"}
    assert call(gw, key).status_code == 200
    listed = admin.get("/admin/keys").json()["data"]
    mine = next(r for r in listed if r["id"] == created["id"])
    assert "key" not in mine and "key_hash" not in mine
    assert key not in json.dumps(listed)


def test_admin_api_needs_the_master_key(gw: RunningGateway) -> None:
    key = gw.create_key(name="not-admin")
    with gw.client(key) as client:
        for response in (
            client.post("/admin/keys", json={"name": "sneaky"}),
            client.get("/admin/keys"),
            client.delete("/admin/keys/whatever"),
            client.post("/admin/switches", json={"scope": "deployment", "name": "primary",
                                                 "disabled": True}),
            client.get("/admin/switches"),
            client.get("/admin/deployments"),
        ):
            assert response.status_code == 403, response.request.url
            assert code_of(response) == "permission_denied"
            assert response.json()["error"]["type"] == "permission_error"
    with httpx.Client(base_url=gw.url) as anonymous:
        assert code_of(anonymous.post("/admin/keys", json={"name": "x"})) == "missing_api_key"
    # the caller key still works for ordinary traffic, and nothing was switched off
    assert call(gw, key).headers["x-pavedroad-route"] == "primary:ok"


@pytest.mark.parametrize(("body", "param"), [
    ({"name": "x", "models": ["gpt", "nope"]}, "models"),
    ({"name": "   "}, "name"),
    ({"name": "x", "expires_in": -5}, "expires_in"),
    ({"models": ["gpt"]}, "name"),
    ({"name": "x", "models": "gpt"}, "models"),
])
def test_bad_key_requests_are_400(admin: httpx.Client, body: dict[str, Any],
                                  param: str) -> None:
    response = admin.post("/admin/keys", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_scoped_key_sees_and_uses_only_its_models(gw: RunningGateway) -> None:
    key = gw.create_key(name="scoped", models=["gpt", "embed"])
    with openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0) as sdk:
        assert sorted(m.id for m in sdk.models.list()) == ["embed", "gpt"]
        assert sdk.chat.completions.create(model="gpt", messages=HELLO).choices
        assert len(sdk.embeddings.create(model="embed", input="x").data) == 1
        with pytest.raises(openai.PermissionDeniedError) as denied:
            sdk.chat.completions.create(model="claude", messages=HELLO)
        assert denied.value.code == "model_not_allowed"
        assert denied.value.param == "model"
        with pytest.raises(openai.PermissionDeniedError):
            sdk.chat.completions.create(model="solo", messages=HELLO, stream=True)
        with pytest.raises(openai.NotFoundError):  # unknown beats forbidden
            sdk.chat.completions.create(model="nope", messages=HELLO)
    with anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0) as ant:
        assert ant.messages.create(model="gpt", max_tokens=20, messages=HELLO).content
        with pytest.raises(anthropic.PermissionDeniedError) as refused:
            ant.messages.create(model="claude", max_tokens=20, messages=HELLO)
        assert refused.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    embed_only = gw.create_key(name="embed-only", models=["embed"])
    with httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {embed_only}"}) as c:
        response = c.post("/v1/embeddings", json={"model": "embed", "input": "x"})
        assert response.status_code == 200
        denied_chat = c.post("/v1/chat/completions", json={"model": "gpt", "messages": HELLO})
        assert denied_chat.status_code == 403 and code_of(denied_chat) == "model_not_allowed"


def test_expired_key_is_refused(gw: RunningGateway, admin: httpx.Client) -> None:
    created = admin.post("/admin/keys", json={"name": "short-lived", "expires_in": 0.6}).json()
    assert created["expires_at"] == pytest.approx(created["created_at"] + 0.6)
    assert call(gw, created["key"]).status_code == 200
    time.sleep(max(0.0, created["expires_at"] - time.time()) + 0.05)
    response = call(gw, created["key"])
    assert response.status_code == 401
    assert code_of(response) == "expired_api_key"


def test_revoked_key_is_refused_at_once(gw: RunningGateway, admin: httpx.Client) -> None:
    created = admin.post("/admin/keys", json={"name": "to-revoke"}).json()
    assert call(gw, created["key"]).status_code == 200
    revoked = admin.delete(f"/admin/keys/{created['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    response = call(gw, created["key"])
    assert response.status_code == 401
    assert code_of(response) == "revoked_api_key"
    assert created["id"] not in {r["id"] for r in admin.get("/admin/keys").json()["data"]}
    everything = admin.get("/admin/keys", params={"include_revoked": "1"}).json()["data"]
    assert created["id"] in {r["id"] for r in everything}
    again = admin.delete(f"/admin/keys/{created['id']}")
    assert again.status_code == 404 and code_of(again) == "not_found"
    assert admin.delete("/admin/keys/key_doesnotexist").status_code == 404


def test_revocation_by_the_cli_reaches_the_running_gateway(gw: RunningGateway,
                                                            admin: httpx.Client) -> None:
    created = admin.post("/admin/keys", json={"name": "cli-revoke"}).json()
    assert call(gw, created["key"]).status_code == 200
    done = cli("keys", "revoke", "--config", str(gw.config_path), created["id"])
    assert done.returncode == 0, done.stderr
    assert created["id"] in done.stdout
    eventually(lambda: call(gw, created["key"]).status_code == 401, within=2.0)
    assert code_of(call(gw, created["key"])) == "revoked_api_key"


def test_key_created_by_the_cli_works(gw: RunningGateway) -> None:
    done = cli("keys", "create", "--config", str(gw.config_path), "--name", "x",
               "--models", "gpt", "--json")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    key = created["key"]
    assert created["models"] == ["gpt"]
    eventually(lambda: call(gw, key).status_code == 200, within=1.5)
    denied = call(gw, key, model="claude")
    assert denied.status_code == 403 and code_of(denied) == "model_not_allowed"


# Runs in a child process: opening and closing the database files from the test's own
# process would drop the POSIX locks the gateway's sqlite connections hold in it.
_SCAN = """
import json, pathlib, sqlite3, sys
db = pathlib.Path(sys.argv[1])
needles = sys.argv[2:]
conn = sqlite3.connect(db)
tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
dump = "\\n".join(repr(row) for t in tables for row in conn.execute(f'select * from "{t}"'))
conn.close()
raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
print(json.dumps({n: {"rows": n in dump, "bytes": n.encode() in raw} for n in needles}))
"""


def scan_database(db: Path, *needles: str) -> dict[str, dict[str, bool]]:
    """Where each string occurs: in any row of any table, and in the raw db/WAL bytes."""
    done = subprocess.run([sys.executable, "-c", _SCAN, str(db), *needles],
                          capture_output=True, text=True, timeout=60, check=True)
    found: dict[str, dict[str, bool]] = json.loads(done.stdout)
    return found


def test_plaintext_keys_are_never_stored(gw: RunningGateway, admin: httpx.Client) -> None:
    api_key = admin.post("/admin/keys", json={"name": "stored-api"}).json()["key"]
    done = cli("keys", "create", "--config", str(gw.config_path), "--name", "stored-cli",
               "--json")
    assert done.returncode == 0, done.stderr
    cli_key = json.loads(done.stdout)["key"]
    digests = [hashlib.sha256(k.encode()).hexdigest() for k in (api_key, cli_key)]
    secrets = [api_key, cli_key, api_key[10:], cli_key[10:]]  # whole keys, and past the prefix
    found = scan_database(gw.config_path.parent / "pavedroad.db", *digests, *secrets)
    for digest in digests:  # the hashes are there, so the scan looked at the right data
        assert found[digest]["rows"], "the key's hash should be stored"
    for secret in secrets:
        assert found[secret] == {"rows": False, "bytes": False}


# --- the kill switch --------------------------------------------------------------------


def test_disabled_deployment_is_routed_around(gw: RunningGateway,
                                              switches: httpx.Client) -> None:
    assert call(gw, MASTER_KEY).headers["x-pavedroad-route"] == "primary:ok"
    assert set_switch(switches, "deployment", "primary", True).status_code == 200
    response = call(gw, MASTER_KEY)
    assert response.status_code == 200
    assert response.headers["x-pavedroad-route"] == "primary:disabled, backup:ok"
    assert response.json()["choices"][0]["message"]["content"] == \
        "Simulated reply from up-backup: hi"
    with (
        gw.client() as client,
        client.stream("POST", "/v1/chat/completions",
                      json={"model": "gpt", "messages": HELLO, "stream": True}) as stream,
    ):
        assert stream.headers["x-pavedroad-route"] == "primary:disabled, backup:ok"
        assert b"up-backup" in b"".join(stream.iter_bytes())
    deployments = {d["name"]: d for d in switches.get("/admin/deployments").json()["data"]}
    assert deployments["primary"]["disabled"] is True
    assert deployments["backup"]["disabled"] is False
    listed = switches.get("/admin/switches").json()["data"]
    assert {"scope": "deployment", "name": "primary", "disabled": True} in [
        {k: r[k] for k in ("scope", "name", "disabled")} for r in listed]


def test_nothing_left_is_503_model_disabled(gw: RunningGateway, switches: httpx.Client) -> None:
    set_switch(switches, "deployment", "primary", True).raise_for_status()
    set_switch(switches, "deployment", "backup", True).raise_for_status()
    response = call(gw, MASTER_KEY)
    assert response.status_code == 503
    assert code_of(response) == "model_disabled"
    assert response.headers["x-pavedroad-route"] == "primary:disabled, backup:disabled"
    streamed = call(gw, MASTER_KEY, stream=True)
    assert streamed.status_code == 503 and code_of(streamed) == "model_disabled"
    with (
        anthropic.Anthropic(base_url=gw.url, api_key=MASTER_KEY, max_retries=0) as ant,
        pytest.raises(anthropic.APIStatusError) as caught,
    ):
        ant.messages.create(model="solo", max_tokens=10, messages=HELLO)
    assert caught.value.status_code == 503
    # re-enabling brings the model back at once
    set_switch(switches, "deployment", "primary", False).raise_for_status()
    back = call(gw, MASTER_KEY)
    assert back.status_code == 200
    # backup is still off, but the plan never reached it: the header lists attempts in order
    assert back.headers["x-pavedroad-route"] == "primary:ok"


def test_model_scope(gw: RunningGateway, switches: httpx.Client) -> None:
    set_switch(switches, "model", "gpt", True).raise_for_status()
    response = call(gw, MASTER_KEY)
    assert response.status_code == 503 and code_of(response) == "model_disabled"
    models = {m["id"] for m in switches.get("/v1/models").json()["data"]}
    assert "gpt" not in models and "solo" in models
    # the deployments behind it still serve other models
    assert call(gw, MASTER_KEY, model="solo").headers["x-pavedroad-route"] == "primary:ok"
    set_switch(switches, "model", "gpt", False).raise_for_status()
    assert call(gw, MASTER_KEY).status_code == 200
    assert "gpt" in {m["id"] for m in switches.get("/v1/models").json()["data"]}


def test_provider_scope(gw: RunningGateway, switches: httpx.Client) -> None:
    set_switch(switches, "provider", "anthropic", True).raise_for_status()
    refused = call(gw, MASTER_KEY, model="claude")
    assert refused.status_code == 503 and code_of(refused) == "model_disabled"
    assert refused.headers["x-pavedroad-route"] == "claude-dep:disabled"
    around = call(gw, MASTER_KEY, model="mixed")
    assert around.status_code == 200
    assert around.headers["x-pavedroad-route"] == "claude-dep:disabled, backup:ok"
    assert call(gw, MASTER_KEY, model="gpt").headers["x-pavedroad-route"] == "primary:ok"
    set_switch(switches, "provider", "anthropic", False).raise_for_status()
    assert call(gw, MASTER_KEY, model="mixed").headers["x-pavedroad-route"] == "claude-dep:ok"


@pytest.mark.parametrize(("body", "param"), [
    ({"scope": "deployment", "name": "nope", "disabled": True}, "name"),
    ({"scope": "model", "name": "primary", "disabled": True}, "name"),
    ({"scope": "provider", "name": "made-up-provider", "disabled": True}, "name"),
    ({"scope": "galaxy", "name": "primary", "disabled": True}, "scope"),
    ({"scope": "deployment", "name": "primary", "disabled": "yes"}, "disabled"),
    ({"scope": "deployment", "name": "primary"}, "disabled"),
])
def test_unknown_switch_targets_are_400(gw: RunningGateway, switches: httpx.Client,
                                        body: dict[str, Any], param: str) -> None:
    response = switches.post("/admin/switches", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert call(gw, MASTER_KEY).headers["x-pavedroad-route"] == "primary:ok"


def test_cli_switch_takes_effect_without_restart(gw: RunningGateway,
                                                 switches: httpx.Client) -> None:
    done = cli("switch", "off", "deployment", "primary", "--config", str(gw.config_path),
               "--reason", "incident 42")
    assert done.returncode == 0, done.stderr
    eventually(lambda: call(gw, MASTER_KEY).headers.get("x-pavedroad-route")
               == "primary:disabled, backup:ok", within=1.5)
    record = next(r for r in switches.get("/admin/switches").json()["data"]
                  if r["name"] == "primary")
    assert record["reason"] == "incident 42" and record["updated_by"] == "cli"
    done = cli("switch", "on", "deployment", "primary", "--config", str(gw.config_path))
    assert done.returncode == 0, done.stderr
    eventually(lambda: call(gw, MASTER_KEY).headers.get("x-pavedroad-route") == "primary:ok",
               within=1.5)


def test_cli_refuses_unknown_switch_names(gw: RunningGateway) -> None:
    done = cli("switch", "off", "deployment", "nope", "--config", str(gw.config_path))
    assert done.returncode != 0
    assert "nope" in done.stderr
    assert call(gw, MASTER_KEY).headers["x-pavedroad-route"] == "primary:ok"
