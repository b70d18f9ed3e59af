"""What the shared stores cost per call against a local Redis: `take` (a request's rate-limit
admission) and `reserve` (its budget reservation), sequential and 64 at once, with the
in-process stores alongside for scale. Starts its own redis-server on a free port.

    .venv/bin/python bench/redis_stores.py [--calls 20000]

Wall time per call is what a request waits; client CPU per call is what the gateway process
spends (the rest is Redis and the loopback). Numbers vary with the machine: compare ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

from pavedroad.budgets.redis_store import RedisBudgetStore
from pavedroad.budgets.store import Account, BudgetStore, LocalBudgetStore
from pavedroad.limits.counter import Claim, CounterStore, LocalCounterStore
from pavedroad.limits.redis_counter import RedisCounterStore
from pavedroad.store.redis import RedisConnection

SERVICES_PY = Path(__file__).resolve().parent.parent / "tests" / "support" / "services.py"
# A request of a key under an app with limits: rpm and tpm on the key, rpm on the app and
# the tenant, concurrency on the key. Its budgets: key, app, team and tenant, all hard.
CLAIMS = [Claim("rl:key:k1:rpm", 10**9, 1, 60.0), Claim("rl:key:k1:tpm", 10**12, 350, 60.0),
          Claim("rl:app:a1:rpm", 10**9, 1, 60.0), Claim("rl:tenant:t1:rpm", 10**9, 1, 60.0),
          Claim("rl:key:k1:concurrent", 10**9, 1, None)]
ACCOUNTS = [Account(f"budget:{scope}:2025-06-01", 10**18, time.time() + 86400)
            for scope in ("key", "app", "team", "tenant")]
AMOUNT = 2_500_000  # $0.0025 reserved per request


def load_services() -> Any:
    spec = importlib.util.spec_from_file_location("pavedroad_bench_services", SERVICES_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def measure(call: Callable[[int], Awaitable[Any]], calls: int,
                  concurrency: int) -> dict[str, float]:
    for i in range(min(500, calls)):  # warm up: scripts loaded, connections open
        await call(-i - 1)
    latencies: list[float] = []

    async def worker(start: int) -> None:
        for i in range(start, calls, concurrency):
            began = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - began)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    latencies.sort()
    return {"us_per_call": wall / calls * 1e6, "cpu_us_per_call": cpu / calls * 1e6,
            "p50_us": statistics.median(latencies) * 1e6,
            "p99_us": latencies[int(len(latencies) * 0.99)] * 1e6,
            "calls_per_s": calls / wall}


def take_call(store: CounterStore) -> Callable[[int], Awaitable[Any]]:
    async def call(i: int) -> Any:
        return await store.take(CLAIMS, holder=f"req_{i}")
    return call


def reserve_call(store: BudgetStore) -> Callable[[int], Awaitable[Any]]:
    async def call(i: int) -> Any:
        return await store.reserve(ACCOUNTS, AMOUNT, holder=f"req_{i}")
    return call


async def run(url: str, calls: int) -> list[tuple[str, str, int, dict[str, float]]]:
    connection = RedisConnection(url, max_connections=64, key_prefix=f"b{uuid.uuid4().hex[:6]}:")
    budgets = RedisBudgetStore(connection)
    await budgets.mark_seeded()
    rows = []
    try:
        for backend, counters, accounts in (
            ("memory", LocalCounterStore(), LocalBudgetStore()),
            ("redis", RedisCounterStore(connection), budgets),
        ):
            for concurrency in (1, 64):
                for name, call in (("take", take_call(counters)),
                                   ("reserve", reserve_call(accounts))):
                    result = await measure(call, calls, concurrency)
                    rows.append((backend, name, concurrency, result))
    finally:
        await connection.aclose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    services = load_services()
    server = services.start_redis()
    try:
        rows = uvloop.run(run(server.url, args.calls))
    finally:
        server.stop()
    print(f"{'backend':8} {'call':8} {'conc':>4} {'us/call':>9} {'cpu us':>8} {'p50 us':>8} "
          f"{'p99 us':>8} {'calls/s':>9}")
    for backend, name, concurrency, r in rows:
        print(f"{backend:8} {name:8} {concurrency:>4} {r['us_per_call']:>9.1f} "
              f"{r['cpu_us_per_call']:>8.1f} {r['p50_us']:>8.1f} {r['p99_us']:>8.1f} "
              f"{r['calls_per_s']:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
