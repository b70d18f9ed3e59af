"""The evaluation runner's throughput through a real gateway and simulator.

    taskset -c 1 .venv/bin/python bench/evals_runner.py [--cases 1000] [--concurrency 16]

Starts `pavedroad sim` and `pavedroad serve` as processes (SQLite store in a temporary
folder), creates a virtual key, and runs a suite of `--cases` cases (scorers: contains,
similarity, latency) with the harness, every case stored as it finishes, exactly as
`pavedroad eval run` does. Reports cases/s and the per-case latency the gateway answered in.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from pavedroad.cli.evals import open_evals
from pavedroad.config.loader import load_settings
from pavedroad.evals.suite import load_suite
from pavedroad.evals.summary import summarise

MASTER = "sk-bench-master"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def write_inputs(folder: Path, cases: int, concurrency: int, gateway_port: int, sim: str) -> Path:
    config = folder / "pavedroad.yaml"
    config.write_text(json.dumps({
        "server": {"port": gateway_port},
        "store": {"url": f"sqlite:///{folder}/bench.db"},
        "deployments": [{"name": "sim", "provider": "openai_compatible", "model": "up-bench",
                         "api_base": f"{sim}/v1"}],
        "models": [{"name": "gpt", "route": "sim"}],
    }))
    (folder / "cases.jsonl").write_text("".join(
        json.dumps({"id": f"c{i:05d}", "input": {"question": f"What is item {i}?"},
                    "expected": f"item {i}"}) + "\n" for i in range(cases)))
    (folder / "suite.yaml").write_text(
        "name: bench\ndataset: cases.jsonl\ntarget: {model: gpt}\nrequest: {max_tokens: 64}\n"
        "scorers: [contains, {name: similarity, threshold: 0.2}, {name: latency, max_ms: 5000}]\n"
        f"concurrency: {concurrency}\n")
    return config


async def run(config: Path, suite_path: Path, gateway: str, key: str) -> dict[str, float]:
    settings = load_settings(config, env={"PAVEDROAD_MASTER_KEY": MASTER})
    suite, base = load_suite(suite_path)
    async with open_evals(settings) as service:
        started = time.perf_counter()
        outcome = await service.start_run(suite, base, gateway=gateway, key=key)
        elapsed = time.perf_counter() - started
        summary = summarise(await service.repository.results(outcome.run.id))
    return {"cases": float(outcome.executed), "seconds": elapsed,
            "cases_per_s": outcome.executed / elapsed, **summary.metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    sim_port, gw_port = free_port(), free_port()
    env = {**os.environ, "PAVEDROAD_MASTER_KEY": MASTER}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_inputs(folder, args.cases, args.concurrency, gw_port,
                              f"http://127.0.0.1:{sim_port}")
        procs = [subprocess.Popen([sys.executable, "-m", "pavedroad", "sim", "--port",
                                   str(sim_port)], stdout=subprocess.DEVNULL, env=env),
                 subprocess.Popen([sys.executable, "-m", "pavedroad", "serve", "--config",
                                   str(config)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env)]
        try:
            gateway = f"http://127.0.0.1:{gw_port}"
            wait_ready(f"http://127.0.0.1:{sim_port}/sim/stats")
            wait_ready(f"{gateway}/readyz")
            created = httpx.post(f"{gateway}/admin/keys", json={"name": "bench"},
                                 headers={"authorization": f"Bearer {MASTER}"}, timeout=10)
            created.raise_for_status()
            result = asyncio.run(run(config, folder / "suite.yaml", gateway,
                                     created.json()["key"]))
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)
    print(json.dumps({k: round(v, 4) for k, v in result.items()}, indent=2))


if __name__ == "__main__":
    main()
