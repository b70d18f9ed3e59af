"""µs per request the prompt stage adds: rendering a registry prompt from memory.

    taskset -c 1 .venv/bin/python bench/prompt_render.py
"""

from __future__ import annotations

import asyncio
import time

from pavedroad.core.types import Caller, ChatRequest, ChatResponse, Subject
from pavedroad.prompts.model import content_from
from pavedroad.service.pipeline import ChatResult, Exchange
from pavedroad.service.prompts import PromptCatalog, PromptStage
from pavedroad.store.prompts import PromptRepository, PromptRow, VersionRow

RUNS = 50_000
CONTENT = content_from({
    "model": "gpt", "parameters": {"temperature": 0.2, "max_tokens": 300},
    "variables": [{"name": "customer"}, {"name": "tickets", "type": "integer"}],
    "messages": [{"role": "system", "content": "You help {{ customer }} with support. " * 10},
                 {"role": "user", "content": "They have {{ tickets }} open tickets."}]})
CALLER = Caller(key_id="k", name="k", models=None, app=Subject("app_7", "app"))


def catalog(apps: int) -> PromptCatalog:
    out = PromptCatalog(PromptRepository(None))  # type: ignore[arg-type]  # never queried
    for a in range(apps):
        version = VersionRow(1, CONTENT.as_dict(), CONTENT.content_hash, "", "", 0.0)
        out.remember(PromptRow(f"prm_{a}", f"app_{a}", "ten", "reply", "", 0.0, 1.0,
                               (version,), {"production": 1}))
    return out


async def terminal(exchange: Exchange) -> ChatResult:
    return ChatResponse(body={})


async def per_request(stage: PromptStage, body: dict[str, object]) -> float:
    started = time.perf_counter()
    for _ in range(RUNS):
        request = ChatRequest(model="", body=dict(body), request_id="r", caller=CALLER)
        await stage(Exchange(request, "chat"), terminal)
    return (time.perf_counter() - started) / RUNS * 1e6


async def main() -> None:
    stage = PromptStage(catalog(200))
    rendered = await per_request(stage, {
        "prompt": {"id": "reply", "variables": {"customer": "Ada", "tickets": 3}},
        "messages": [{"role": "user", "content": "hi"}]})
    plain = await per_request(stage, {"model": "m",
                                      "messages": [{"role": "user", "content": "hi"}]})
    print(f"with a prompt: {rendered:.1f} µs/request; without: {plain:.1f} µs "
          f"(both include building the exchange); rendering adds {rendered - plain:.1f} µs")


if __name__ == "__main__":
    asyncio.run(main())
