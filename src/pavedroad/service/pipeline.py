"""The request pipeline: ordered stages, each one small object with one async method.

A stage gets the exchange and the rest of the pipeline (`call_next`), so it can act
before the call (auth, policy, guardrails, cache lookup, budget reservation) and after
it (output guardrails, settlement). The chain is composed once at start-up.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pavedroad.core.errors import PavedroadError
from pavedroad.core.types import ChatChunk, ChatRequest, ChatResponse, Usage
from pavedroad.routing.router import RouteTrace


@dataclass(slots=True)
class Exchange:
    """One request's journey: what came in and what happened to it."""

    request: ChatRequest
    endpoint: str
    trace: RouteTrace = field(default_factory=RouteTrace)
    started: float = field(default_factory=time.perf_counter)
    usage: Usage | None = None
    first_token_at: float | None = None
    outcome: str = "ok"


@dataclass(slots=True)
class StreamFailure:
    """The terminal item of a stream that broke after it started."""

    error: PavedroadError


StreamItem = ChatChunk | StreamFailure


@dataclass(slots=True)
class ChatStream:
    exchange: Exchange
    items: AsyncGenerator[StreamItem, None]


ChatResult = ChatResponse | ChatStream
Next = Callable[[Exchange], Awaitable[ChatResult]]


class Stage(Protocol):
    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult: ...


def compose(stages: Sequence[Stage], terminal: Next) -> Next:
    """Fold the stages around the terminal call, first stage outermost."""
    handler = terminal
    for stage in reversed(stages):
        handler = _bind(stage, handler)
    return handler


def _bind(stage: Stage, call_next: Next) -> Next:
    async def run(exchange: Exchange) -> ChatResult:
        return await stage(exchange, call_next)

    return run
