"""The ledger's durability point, proven with SIGKILL: every request whose response had
started (its status line reached the client) has a ledger row after the gateway is killed
mid-load and started again on the same store (docs/adr/0007-spend-ledger-durability.md).
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.ledger import wait_for_rows
from tests.support.replicas import serve_process
from tests.support.servers import MASTER_KEY, Sim, free_port

pytestmark = pytest.mark.timeout(60)

THREADS = 10
STREAM_THREADS = 4  # the others send complete requests
LOAD_SECONDS = 1.5


def start_gateway(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    return serve_process(config, port, log)


class Load:
    """Threads sending non-streaming and streaming requests until the gateway dies,
    recording each request id as soon as its status line and headers arrive."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.started: dict[str, str] = {}  # request id -> "plain" | "stream"
        self.completed: set[str] = set()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(THREADS)]

    def _run(self, n: int) -> None:
        client = httpx.Client(base_url=self.url, timeout=10,
                              headers={"authorization": f"Bearer {MASTER_KEY}"})
        i = 0
        while not self.stop.is_set():
            kind = "stream" if n < STREAM_THREADS else "plain"
            i += 1
            body = {"model": "slow" if kind == "stream" else "fast", "stream": kind == "stream",
                    "messages": [{"role": "user", "content": f"request {n}.{i} of the load"}]}
            try:
                with client.stream("POST", "/v1/chat/completions", json=body) as response:
                    rid = response.headers["x-pavedroad-request-id"]
                    with self._lock:
                        self.started[rid] = kind
                    text = response.read().decode()
                assert response.status_code == 200, text
                if kind == "plain" or "[DONE]" in text:
                    with self._lock:
                        self.completed.add(rid)
            except httpx.TransportError:
                return  # the gateway is gone
        client.close()

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


def test_sigkill_under_load_loses_no_started_response(sim: Sim, tmp_path: Path) -> None:
    config = tmp_path / "pavedroad.yaml"
    config.write_text(json.dumps({
        "store": {"url": f"sqlite:///{tmp_path}/pavedroad.db"},
        "server": {"log_level": "warning"},
        "metering": {"ledger": {"flush_seconds": 0.3}},
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
        journal = tmp_path / "journal"
        assert any(p.suffix == ".jsonl" for p in journal.iterdir())  # left by the dead process

        gateway = start_gateway(config, port, log)
        rows = wait_for_rows(url, started, timeout=15)
    finally:
        gateway.kill()
        gateway.wait(timeout=10)

    outcomes = {rid: rows[rid]["outcome"] for rid in started}
    for rid, kind in started.items():
        if rid in completed or kind == "plain":
            # A complete answer is journalled before its first byte: even one whose body
            # the kill cut off in transit is recorded as answered.
            assert outcomes[rid] == "ok", (rid, kind)
        else:  # cut by the kill: the stream never ended
            assert outcomes[rid] in ("interrupted", "ok"), (rid, kind)
    cut = [rid for rid, kind in started.items() if rid not in completed and kind == "stream"]
    assert cut, "no stream was in flight when the gateway was killed"
    assert all(outcomes[rid] == "interrupted" for rid in cut if rows[rid]["completion_tokens"]
               == 0)
    for rid in cut:
        assert rows[rid]["cost_usd"] is not None and rows[rid]["cost_usd"] > 0  # estimated
    assert "replayed the ledger journal of a stopped gateway" in log.read_text()
