"""Gateway replicas as real processes (`python -m pavedroad serve`), for scale-out tests:
several of them share one database and one Redis, like replicas behind a load balancer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import MASTER_KEY, AdminClient, free_port


@dataclass
class Replica(AdminClient):
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


    def knows_key(self, key: str) -> bool:
        """Whether this replica has loaded `key` yet (keys are refreshed, not shared)."""
        response = httpx.get(f"{self.url}/v1/models", timeout=5,
                             headers={"authorization": f"Bearer {key}"})
        return response.status_code == 200

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_replica(config: dict[str, Any], directory: Path, name: str) -> Replica:
    """Write `config` as `<name>.yaml` in `directory` and serve it on a free port."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(json.dumps(config))
    log = directory / f"{name}.log"
    port = free_port()
    return Replica(serve_process(path, port, log, timeout=30), port, log)


def serve_process(config: Path, port: int, log: Path, *,
                  timeout: float = 20) -> subprocess.Popen[bytes]:
    """`python -m pavedroad serve` as a real process, returned once `/readyz` says ready."""
    env = {**os.environ, "PAVEDROAD_MASTER_KEY": MASTER_KEY}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "pavedroad", "serve", "--config", str(config),
             "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
            cwd=config.parent)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait(timeout=5)
    raise AssertionError(f"the gateway ({config.name}) did not start:\n{log.read_text()}")


def wait_until(check: Any, *, seconds: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
