"""µs per policy decision (the default policy) and per input-guardrail pass, in process.

    .venv/bin/python bench/policy_decision.py
"""

from __future__ import annotations

import asyncio
import statistics
import time

from pavedroad.core.types import Caller, ChatRequest, ChatResponse
from pavedroad.guardrails.runner import GuardrailRunner
from pavedroad.plugins.registry import load_registry
from pavedroad.policy.engine import PolicyEngine, complete_input
from pavedroad.service.guardrail_input import InputGuardrails
from pavedroad.service.pipeline import ChatResult, Exchange

PROMPT = ("Please summarise the quarterly report for the board. Contact jane.doe@example.com "
          "or +44 20 7946 0958 with questions. " * 20)[:2048]


def per_call(fn: object, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


def main() -> None:
    engine = PolicyEngine.load()
    for risk in ("minimal", "limited", "high"):
        given = complete_input({"app": {"risk_class": risk}, "request": {"model": "balanced"}})
        samples = per_call(lambda g=given: engine.decide(g), 20000)
        print(f"decision {risk:<8} p50 {statistics.median(samples):6.1f} µs  "
              f"mean {statistics.fmean(samples):6.1f} µs")
    decision = engine.decide(complete_input({"app": {"risk_class": "high"}}))
    stage = InputGuardrails(GuardrailRunner(load_registry()))

    async def upstream(exchange: Exchange) -> ChatResult:
        return ChatResponse({"choices": []})

    async def once() -> None:
        request = ChatRequest("m", {"model": "m", "messages": [
            {"role": "user", "content": PROMPT}]}, "req", Caller("k", "k", None))
        exchange = Exchange(request, "chat")
        exchange.policy = decision
        await stage(exchange, upstream)

    async def run() -> list[float]:
        out = []
        for _ in range(300):
            started = time.perf_counter()
            await once()
            out.append((time.perf_counter() - started) * 1e6)
        return out

    samples = asyncio.run(run())
    print(f"input guardrails (high: pii pseudonymise + prompt_injection), 2 KB prompt: "
          f"p50 {statistics.median(samples):.0f} µs")


if __name__ == "__main__":
    main()
