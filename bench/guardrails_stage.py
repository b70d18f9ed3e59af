"""What the input-guardrail stage adds per request, as the default policy runs it.

    taskset -c 1 python bench/guardrails_stage.py [--runs 2000]

Runs the real `InputGuardrails` pipeline stage (service/guardrail_input.py) with the built-in
detectors from the plugin registry, on a chat request whose user message is a 2 KB prompt,
with an upstream that answers at once. The rules come from the shipped default policy for a
`high` risk app (PII pseudonymisation + prompt_injection block) plus an app's denied_topics
list (50 topics, 103 terms), so the stage does everything a high-risk request pays for. The
"added" column is the stage's p50/p99 minus the same request straight to the upstream.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from pavedroad.core.types import Caller, ChatRequest, ChatResponse
from pavedroad.guardrails import builtin
from pavedroad.guardrails.runner import GuardrailRunner
from pavedroad.plugins.registry import load_registry
from pavedroad.policy.decision import Decision, GuardrailRule
from pavedroad.policy.engine import PolicyEngine, complete_input
from pavedroad.service.guardrail_input import InputGuardrails
from pavedroad.service.pipeline import ChatResult, Exchange

SIZE = 2048
TOPICS = GuardrailRule("denied_topics", "input", "block", params={
    "topics": [{"name": f"topic{i}", "terms": [f"term{i}a", f"phrase number {i}"]} for i in range(50)],
    "keywords": ["project falcon", "internal only", "confidential draft"],
})


def _fill(unit: str, tail: str = "") -> str:
    return (unit * (SIZE // len(unit) + 1))[: SIZE - len(tail)] + tail


PROMPTS = {
    "prose": _fill(
        "Please review the attached quarterly summary and tell me which regions grew fastest, "
        "what drove the change in margins, and which risks the board should discuss next week. "
    ),
    "prose with PII": _fill(
        "Contact Maria Lopez at maria.lopez@example.com or +44 20 7946 0958 about invoice 4471; "
        "her card ends 4242 and she lives at 12 High Street, Bristol. "
    ),
    "non-ASCII prose": _fill(
        "Déjà vu: l'équipe a présenté les résultats trimestriels à São Paulo et à Zürich. "
    ),
}


def decision(*, learned: bool = True) -> Decision:
    engine = PolicyEngine.load()
    base = engine.decide(complete_input({"app": {"risk_class": "high"}}))
    rules = [r if r.name != "prompt_injection" or learned else
             GuardrailRule(r.name, r.direction, r.action, {**r.params, "learned": False}, r.mode)
             for r in base.rules("input")]
    return Decision(guardrails=(*rules, TOPICS))


def _exchange(text: str, policy: Decision) -> Exchange:
    body = {"model": "m", "messages": [{"role": "system", "content": "Be brief."},
                                       {"role": "user", "content": text}]}
    request = ChatRequest(model="m", body=body, request_id="req_bench",
                          caller=Caller(key_id="key_bench", name="bench", models=None))
    exchange = Exchange(request, "chat")
    exchange.policy = policy
    return exchange


ANSWER: dict[str, Any] = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}]}


async def upstream(exchange: Exchange) -> ChatResult:
    return ChatResponse(ANSWER)


async def measure(text: str, policy: Decision, runs: int, *, stage: InputGuardrails | None,
                  ) -> list[float]:
    samples = []
    for _ in range(runs):
        exchange = _exchange(text, policy)
        started = time.perf_counter()
        if stage is None:
            await upstream(exchange)
        else:
            await stage(exchange, upstream)
        samples.append((time.perf_counter() - started) * 1e3)
    samples.sort()
    return samples


def _p(samples: list[float], q: float) -> float:
    return samples[min(len(samples) - 1, int(q * len(samples)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    registry = load_registry(include_entry_points=False)
    builtin.register(registry)  # what the gateway's entry point does
    stage = InputGuardrails(GuardrailRunner(registry))
    names = ", ".join(f"{r.name}:{r.action}" for r in decision().rules("input"))
    print(f"input rules: {names}\n")
    print("| prompt (2 KB user message) | injection | stage p50 ms | stage p99 ms | added p50 ms "
          "| added p99 ms |")
    print("|---|---|---|---|---|---|")
    for label, text in PROMPTS.items():
        for learned in (True, False):
            policy = decision(learned=learned)
            await measure(text, policy, 50, stage=stage)  # warm-up: detectors built, model loaded
            base = await measure(text, policy, args.runs, stage=None)
            with_stage = await measure(text, policy, args.runs, stage=stage)
            kind = "rules + model" if learned else "rules only"
            print(f"| {label} | {kind} | {statistics.median(with_stage):.3f} | {_p(with_stage, 0.99):.3f} "
                  f"| +{statistics.median(with_stage) - statistics.median(base):.3f} "
                  f"| +{_p(with_stage, 0.99) - _p(base, 0.99):.3f} |")


if __name__ == "__main__":
    asyncio.run(main())
