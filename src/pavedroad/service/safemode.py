"""Safe mode: an app, model, provider kind or the whole gateway answers safely.

Set through the admin API or CLI (stored like the kill switch), or by a policy rule
(`safe_mode: true`). A request in safe mode gets the configured fixed answer, or is
pinned to the designated safe deployment (still inside the policy's allow-list).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable

from pavedroad.cache.replay import replay_chunks
from pavedroad.config.policy import SafeModeConfig, SafeModeTarget
from pavedroad.core.ids import new_id
from pavedroad.core.types import ChatResponse, Usage
from pavedroad.routing.allow import RouteFilter
from pavedroad.routing.switches import KillSwitches
from pavedroad.service.pipeline import ChatResult, ChatStream, Exchange, Next, StreamItem

SAFE_HEADER = "x-pavedroad-safe-mode"


class SafeMode:
    def __init__(self, config: SafeModeConfig, switches: KillSwitches, *,
                 providers_of: Callable[[str], frozenset[str]],
                 path_of: Callable[[str], str]) -> None:
        self._config = config
        self._switches = switches
        self._providers_of = providers_of
        self._path_of = path_of

    def target(self, exchange: Exchange) -> tuple[str, SafeModeTarget] | None:
        request = exchange.request
        app_id = request.caller.app.id if request.caller.app else None
        hit = self._switches.safe_mode(app=app_id, model=request.model,
                                       providers=self._providers_of(request.model))
        if hit is None and exchange.policy is not None and exchange.policy.safe_mode:
            hit = ("policy", "")
        if hit is None:
            return None
        scope, name = hit
        config = self._config
        found: SafeModeTarget | None = None
        if scope == "app" and app_id:
            found = config.apps.get(app_id) or config.apps.get(self._path_of(app_id))
        elif scope == "model":
            found = config.models.get(name)
        elif scope == "provider":
            found = config.providers.get(name)
        return scope, found or config.default

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        found = self.target(exchange)
        if found is None:
            return await call_next(exchange)
        scope, target = found
        exchange.response_headers[SAFE_HEADER] = scope
        exchange.tags.setdefault("safe_mode", scope)
        if target.deployment is not None:
            current = exchange.allow or RouteFilter()
            exchange.allow = RouteFilter(current.models, current.regions, (target.deployment,))
            return await call_next(exchange)
        exchange.outcome = "safe_mode"
        body = fixed_answer(exchange.request.model, target.response or "")
        exchange.usage = Usage()
        if not exchange.request.stream:
            return ChatResponse(body, Usage())
        return ChatStream(exchange, _replay(body, include_usage=exchange.request.include_usage))


def fixed_answer(model: str, text: str) -> dict[str, object]:
    return {
        "id": new_id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


async def _replay(body: dict[str, object], *, include_usage: bool,
                  ) -> AsyncGenerator[StreamItem, None]:
    for chunk in replay_chunks(body, include_usage=include_usage):
        yield chunk
