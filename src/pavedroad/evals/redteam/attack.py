"""Send red-team cases through a gateway with an app's key, and judge each answer.

The cases travel the app's full path (policy, guardrails, model) exactly as its own traffic
would: one OpenAI-format request each, at most `concurrency` in flight. aiohttp, not httpx:
it is already a runtime dependency of the gateway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp
import orjson

from pavedroad.core.errors import ServiceUnavailable
from pavedroad.evals.redteam.criteria import Verdict, judge
from pavedroad.evals.runner import output_of
from pavedroad.evals.types import Case, Output

DEFAULT_MAX_TOKENS = 256


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: Case
    output: Output
    verdict: Verdict

    @property
    def category(self) -> str:
        return str(self.case.metadata["category"])


async def attack(
    cases: Sequence[Case], *, gateway: str, key: str, model: str, concurrency: int = 8,
    request_timeout: float = 60.0, max_tokens: int = DEFAULT_MAX_TOKENS,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Run every case once; results come back in the order of `cases`."""
    limit = asyncio.Semaphore(max(1, concurrency))
    url = f"{gateway.rstrip('/')}/v1/chat/completions"
    headers = {"authorization": f"Bearer {key}", "x-pavedroad-tags": "source=redteam",
               "content-type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:

        async def one(case: Case) -> CaseResult:
            body = orjson.dumps({"model": model, "max_tokens": max_tokens, **case.input})
            async with limit:
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body) as response:
                        status, raw = response.status, await response.read()
                        headers = response.headers
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise ServiceUnavailable(f"cannot reach the gateway at {gateway}: "
                                             f"{exc.__class__.__name__}") from exc
            output = output_of(status, raw, headers, (time.perf_counter() - started) * 1000)
            result = CaseResult(case, output, judge(case, output))
            if on_result is not None:
                on_result(result)
            return result

        return list(await asyncio.gather(*(one(case) for case in cases)))
