"""The CLI as a user runs it: real processes, real files, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port

PAVEDROAD = [sys.executable, "-m", "pavedroad"]
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PAVEDROAD, *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=60, check=False)


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "pavedroad.yaml"
    path.write_text(f"""
store: {{url: "sqlite:///{tmp_path}/db.sqlite"}}
deployments:
  - {{name: up, provider: openai_compatible, model: m, api_base: "http://127.0.0.1:9/v1"}}
models:
  - {{name: fast, route: up}}
  - {{name: slow, route: up}}
""")
    return path


def test_config_check_ok_and_every_problem_with_lines(tmp_path: Path) -> None:
    good = write_config(tmp_path)
    result = run("config", "check", str(good))
    assert result.returncode == 0
    assert "ok (1 deployments, 2 models)" in result.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text("deployments:\n  - name: a\n    provider: nosuch\n    model: m\n"
                   "    typo: 1\nmodels:\n  - name: x\n    route: b\n")
    result = run("config", "check", str(bad))
    assert result.returncode == 2
    assert "line 5: deployments[0].typo: unknown key" in result.stderr
    assert "line 8: models[0].route: routes to unknown deployment 'b'" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_check_reports_unknown_provider_and_missing_secret(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("deployments:\n  - {name: a, provider: nosuch, model: m}\n"
                   "  - {name: b, provider: openai, model: m, api_key: 'env:PR_TEST_UNSET_KEY'}\n")
    result = run("config", "check", str(bad), env={"PR_TEST_UNSET_KEY": ""})
    assert result.returncode == 2
    assert "deployments[0].provider: unknown provider 'nosuch'" in result.stderr
    assert "deployments[1].api_key: environment variable PR_TEST_UNSET_KEY is not set" \
        in result.stderr


def test_keys_lifecycle_never_stores_the_secret(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    created = run("keys", "create", "--config", str(config), "--name", "search",
                  "--models", "fast", "--expires", "30d", "--json")
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert data["key"].startswith("sk-pr-") and data["models"] == ["fast"]
    assert data["expires_at"] - time.time() == pytest.approx(30 * 86400, abs=120)
    assert data["key"].encode() not in (tmp_path / "db.sqlite").read_bytes()

    listed = run("keys", "list", "--config", str(config))
    assert data["id"] in listed.stdout and data["key"] not in listed.stdout

    unknown = run("keys", "create", "--config", str(config), "--name", "x", "--models", "nope")
    assert unknown.returncode == 1
    assert "unknown model(s) nope" in unknown.stderr

    revoked = run("keys", "revoke", "--config", str(config), "search")
    assert revoked.returncode == 0 and f"revoked {data['id']}" in revoked.stdout
    again = run("keys", "revoke", "--config", str(config), data["id"])
    assert again.returncode == 1 and "already revoked" in again.stderr
    assert data["id"] not in run("keys", "list", "--config", str(config)).stdout
    assert data["id"] in run("keys", "list", "--config", str(config), "--all").stdout


def test_switch_commands(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    off = run("switch", "off", "deployment", "up", "--config", str(config), "--reason", "inc-7")
    assert off.returncode == 0 and "deployment up disabled" in off.stdout
    listed = run("switch", "list", "--config", str(config))
    assert "OFF" in listed.stdout and "inc-7" in listed.stdout
    unknown = run("switch", "off", "deployment", "ghost", "--config", str(config))
    assert unknown.returncode == 1 and "unknown deployment 'ghost'" in unknown.stderr
    assert run("switch", "on", "deployment", "up", "--config", str(config)).returncode == 0
    assert "OFF" not in run("switch", "list", "--config", str(config)).stdout


def test_up_serves_the_demo_model_and_prints_a_working_curl(tmp_path: Path) -> None:
    port = free_port()
    # The hashing embedder indexes the bundled docs in a second or two (the local model,
    # which `make run` uses, takes about a minute on the first start).
    env = {**os.environ, "PAVEDROAD_PORT": str(port), "PAVEDROAD_MASTER_KEY": "",
           "OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "OLLAMA_HOST": "",
           "PAVEDROAD_EMBEDDER": "hashing"}
    proc = subprocess.Popen([*PAVEDROAD, "up"], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "try: curl" in line:
                break
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}" in output
        assert "SIMULATED" in output
        key = output.split("admin key: ")[1].split()[0]
        assert (tmp_path / ".pavedroad" / "master-key").read_text().strip() == key
        body = {"model": "demo", "messages": [{"role": "user", "content": "hello"}]}
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body,
                                      headers={"authorization": f"Bearer {key}"})
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert response is not None and response.status_code == 200, output
        assert response.json()["choices"][0]["message"]["content"].endswith("hello")
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models",
                           headers={"authorization": f"Bearer {key}"}).json()
        assert {m["id"] for m in models["data"]} == {"demo", "fast", "balanced", "reasoning",
                                                     "pavedroad/grounded", "cheapest"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


def test_organisation_commands_and_keys_under_an_app(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert run("tenants", "create", "acme", "--config", str(config), "--rpm", "100").returncode == 0
    assert run("teams", "create", "acme/search", "--config", str(config)).returncode == 0
    made = run("apps", "create", "acme/search/assistant", "--config", str(config),
               "--tag", "cost-center=42", "--fail-mode", "closed")
    assert made.returncode == 0, made.stderr
    duplicate = run("apps", "create", "acme/search/assistant", "--config", str(config))
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    missing = run("apps", "create", "acme/nosuch/x", "--config", str(config))
    assert missing.returncode == 1 and "no team 'nosuch' in tenant 'acme'" in missing.stderr
    bad = run("teams", "create", "acme", "--config", str(config))
    assert bad.returncode == 2 and "tenant/team" in bad.stderr

    apps_listed = json.loads(run("apps", "list", "--config", str(config)).stdout)
    assistant = next(a for a in apps_listed if a["path"] == "acme/search/assistant")
    assert assistant["tags"] == {"cost-center": "42"} and assistant["fail_mode"] == "closed"
    tenants_listed = json.loads(run("tenants", "list", "--config", str(config)).stdout)
    assert {"default", "acme"} <= {t["name"] for t in tenants_listed}

    key = json.loads(run("keys", "create", "--config", str(config), "--name", "bot", "--app",
                         "acme/search/assistant", "--rpm", "10", "--json").stdout)
    assert key["app_id"] == assistant["id"] and key["limits"] == {"rpm": 10}
    listed = json.loads(run("keys", "list", "--config", str(config), "--json").stdout)
    assert [k["app"] for k in listed] == ["acme/search/assistant"]


def test_unusable_store_path_is_a_clear_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    result = run("keys", "list", env={"PAVEDROAD_STORE_URL": f"sqlite:///{blocker}/db.sqlite"})
    assert result.returncode == 2
    assert "store.url: cannot create the database directory" in result.stderr
    assert "Traceback" not in result.stderr
