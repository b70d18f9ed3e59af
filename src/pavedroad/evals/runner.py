"""Run a suite through the gateway: each case one request with a virtual key, at most
`concurrency` in flight, every finished case stored at once so a run can resume.

Requests go over HTTP to a gateway, never to a provider directly: the key's budgets,
policies and guardrails apply, and the ledger shows eval traffic (tag `source=eval`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from pavedroad.core.errors import ServiceUnavailable
from pavedroad.core.ids import new_id
from pavedroad.evals.datasets import Dataset
from pavedroad.evals.suite import Suite
from pavedroad.evals.types import Case, Output, Score, Scorer
from pavedroad.metering.cost import COST_HEADER
from pavedroad.store.evals import EvalRepository, ResultRow, RunRow

REQUEST_TIMEOUT_S = 120.0
WRITE_BATCH = 200


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run: RunRow
    executed: int  # cases sent in this invocation
    skipped: int  # cases already finished before it (resume)


def output_of(status: int, raw: bytes, headers: Any, latency_ms: float) -> Output:
    """The gateway's answer as an `Output`: text, or the error code when it refused."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    meta = {"request_id": headers.get("x-pavedroad-request-id")}
    try:  # a proxy in between may mangle or drop the header: the cost is then unknown
        cost: float | None = float(headers.get(COST_HEADER))
    except (TypeError, ValueError):
        cost = None
    if not isinstance(body, dict):
        return Output("", status=status, error_code="invalid_response", latency_ms=latency_ms,
                      raw=meta)
    if status >= 400:
        error = body.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        return Output("", status=status, error_code=str(code) if code else "error",
                      latency_ms=latency_ms, cost_usd=cost, raw=meta)
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else {}
    message = first.get("message") if isinstance(first, dict) else None
    message = message if isinstance(message, dict) else {}
    citations = body.get("citations") if isinstance(body.get("citations"), list) else ()
    return Output(str(message.get("content") or ""), status=status, latency_ms=latency_ms,
                  cost_usd=cost, citations=citations or (), raw=meta)


def category_of(case: Case) -> str | None:
    """A red-team category: `metadata.category`, or a `category:<name>` tag."""
    if case.metadata.get("category"):
        return str(case.metadata["category"])
    for tag in case.tags:
        if tag.startswith("category:"):
            return tag.split(":", 1)[1]
    return None


def score_row(score: Score) -> dict[str, Any]:
    return {"name": score.name, "value": score.value, "passed": score.passed,
            "reason": score.reason, "details": dict(score.details)}


async def score_case(case: Case, output: Output, scorers: Sequence[Scorer]) -> ResultRow:
    scores = [await scorer.score(case, output) for scorer in scorers]
    return ResultRow(
        case.id,
        {"text": output.text, "status": output.status, "error_code": output.error_code,
         "latency_ms": round(output.latency_ms, 2), "cost_usd": output.cost_usd,
         **{k: v for k, v in output.raw.items() if v is not None}},
        [score_row(s) for s in scores], all(s.passed for s in scores), list(case.tags),
        category_of(case), time.time())


class ResultWriter:
    """The one task that stores results, a batch per transaction. Sixteen workers each
    committing their own row fight over SQLite's write lock (measured: ~350 ms per row
    under load); one writer draining a queue commits whatever finished meanwhile."""

    def __init__(self, repository: EvalRepository, run_id: str,
                 on_result: Callable[[ResultRow], None] | None) -> None:
        self.repository, self.run_id, self.on_result = repository, run_id, on_result
        self.queue: asyncio.Queue[ResultRow | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._drain())

    def put(self, result: ResultRow) -> None:
        self.queue.put_nowait(result)

    async def close(self) -> None:
        self.queue.put_nowait(None)
        await asyncio.shield(self.task)

    async def _drain(self) -> None:
        closing = False
        while not closing:
            batch: list[ResultRow] = []
            item = await self.queue.get()
            while True:
                if item is None:
                    closing = True
                    break
                batch.append(item)
                if len(batch) >= WRITE_BATCH or self.queue.empty():
                    break
                item = self.queue.get_nowait()
            await self.repository.add_results(self.run_id, batch)
            if self.on_result is not None:
                for result in batch:
                    self.on_result(result)


class SuiteRunner:
    """One run of `suite` over `dataset` through the gateway at `gateway` with `key`."""

    def __init__(self, suite: Suite, dataset: Dataset, scorers: Sequence[Scorer], *,
                 repository: EvalRepository, gateway: str, key: str) -> None:
        self.suite, self.dataset, self.scorers = suite, dataset, scorers
        self.repository = repository
        self.url = f"{gateway.rstrip('/')}/v1/chat/completions"
        self.gateway, self.key = gateway, key
        self.bodies = {case.id: orjson.dumps(suite.body(case)) for case in dataset.cases}

    async def start(self, *, tenant_id: str | None, app_id: str | None) -> RunRow:
        run = RunRow(new_id("run"), self.suite.name, self.dataset.name, self.dataset.version,
                     self.suite.target.public(),
                     self.suite.spec(dataset=f"{self.dataset.name}@{self.dataset.version}"),
                     tenant_id, app_id, "running", len(self.dataset.cases), time.time(), None)
        await self.repository.create_run(run)
        return run

    async def execute(self, run: RunRow, *,
                      on_result: Callable[[ResultRow], None] | None = None) -> RunOutcome:
        """Send every case not finished yet; mark the run finished when all are."""
        done = await self.repository.finished_cases(run.id)
        pending: asyncio.Queue[Case] = asyncio.Queue()
        for case in self.dataset.cases:
            if case.id not in done:
                pending.put_nowait(case)
        executed = pending.qsize()
        headers = {"authorization": f"Bearer {self.key}", "content-type": "application/json",
                   "x-pavedroad-tags": f"source=eval,suite={self.suite.name},run={run.id}"}
        connector = aiohttp.TCPConnector(limit=self.suite.concurrency)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        writer = ResultWriter(self.repository, run.id, on_result)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout,
                                         connector=connector) as session:

            async def worker() -> None:
                while not pending.empty():
                    case = pending.get_nowait()
                    writer.put(await score_case(case, await self._call(session, case),
                                                self.scorers))

            workers = [asyncio.create_task(worker())
                       for _ in range(min(self.suite.concurrency, max(1, executed)))]
            try:
                await asyncio.gather(*workers)
            finally:  # on an error or an interrupt, stop the others before storing
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                await writer.close()  # what finished is stored either way
        await self.repository.finish_run(run.id)
        finished = await self.repository.run(run.id)
        return RunOutcome(finished or run, executed, len(done))

    async def _call(self, session: aiohttp.ClientSession, case: Case) -> Output:
        started = time.perf_counter()
        try:
            async with session.post(self.url, data=self.bodies[case.id]) as response:
                status, raw, headers = response.status, await response.read(), response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServiceUnavailable(f"cannot reach the gateway at {self.gateway} "
                                     f"({exc.__class__.__name__}); resume the run when it is "
                                     "back") from exc
        return output_of(status, raw, headers, (time.perf_counter() - started) * 1000)
