"""The audit trail's durability point is the ledger's (docs/adr/0012): a gateway killed
with SIGKILL under load leaves, after a restart, an audit record for every request whose
status line reached its client, streams cut by the kill chained as `interrupted`, and a
chain that verifies."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.test_ledger_durability import LOAD_SECONDS, Load, start_gateway
from tests.support.servers import MASTER_KEY, Sim, free_port

pytestmark = pytest.mark.timeout(90)


def audit_records(url: str) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    after = "0"
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {MASTER_KEY}"},
                      timeout=10) as http:
        while True:
            page = http.get("/admin/audit", params={"limit": 1000, "after": after}).json()
            found.update((str(r["id"]), r) for r in page["data"])
            if len(page["data"]) < 1000:
                return found
            after = str(page["next"])


def test_sigkill_under_load_loses_no_audit_record(sim: Sim, tmp_path: Path) -> None:
    config = tmp_path / "pavedroad.yaml"
    config.write_text(json.dumps({
        "store": {"url": f"sqlite:///{tmp_path}/pavedroad.db"},
        "server": {"log_level": "warning"},
        "audit": {"flush_seconds": 0.3},
        "deployments": [
            {"name": "fast", "provider": "openai_compatible", "model": "gpt-4o-mini",
             "api_base": f"{sim.url}/v1"},
            {"name": "slow", "provider": "openai_compatible", "model": "gpt-4o",
             "api_base": f"{sim.url}/v1", "headers": {"x-sim-fault": "chunk_delay_ms=40"}},
        ],
        "models": [{"name": "fast", "route": "fast"}, {"name": "slow", "route": "slow"}],
    }))
    log = tmp_path / "gateway.log"
    port = free_port()
    gateway = start_gateway(config, port, log)
    url = f"http://127.0.0.1:{port}"
    try:
        with Load(url) as load:
            time.sleep(LOAD_SECONDS)
            gateway.send_signal(signal.SIGKILL)
            gateway.wait(timeout=10)
        started, completed = dict(load.started), set(load.completed)
        assert len(started) > 40, "the load did not get going"
        assert any(p.suffix == ".jsonl" for p in (tmp_path / "journal-audit").iterdir())

        gateway = start_gateway(config, port, log)
        deadline = time.monotonic() + 20
        while not set(started) <= set(found := audit_records(url)):
            assert time.monotonic() < deadline, set(started) - set(found)
            time.sleep(0.1)
        verdict = httpx.get(f"{url}/admin/audit/verify", timeout=10,
                            headers={"authorization": f"Bearer {MASTER_KEY}"}).json()
    finally:
        gateway.kill()
        gateway.wait(timeout=10)

    assert verdict["ok"], verdict
    for rid, kind in started.items():
        outcome = found[rid]["outcome"]
        if rid in completed or kind == "plain":
            # A complete answer is chained before its first byte, so one whose body the
            # kill cut off in transit is still recorded as answered.
            assert outcome == "ok", (rid, kind)
        else:  # cut by the kill: the stream never ended
            assert outcome in ("interrupted", "ok"), (rid, kind, outcome)
    assert any(found[rid]["outcome"] == "interrupted" for rid in started if rid not in completed)
