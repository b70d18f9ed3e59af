"""The request pipeline: ordered stages, each one small object with one async method.

A stage gets the exchange and the rest of the pipeline (`call_next`), so it can act
before the call (auth, policy, guardrails, cache lookup, budget reservation) and after
it (output guardrails, settlement). The chain is composed once at start-up.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pavedroad.core.errors import PavedroadError
from pavedroad.core.types import ChatChunk, ChatRequest, ChatResponse, Usage
from pavedroad.policy.decision import AppliedFinding, Decision
from pavedroad.routing.allow import RouteFilter
from pavedroad.routing.deployment import Deployment
from pavedroad.routing.router import RouteTrace

Finalizer = Callable[["Exchange"], None]


@dataclass(slots=True)
class Exchange:
    """One request's journey: what came in and what happened to it.

    Stages that hold something for the request (a budget reservation, a concurrency slot)
    register a finalizer; finalizers run exactly once, newest first, when the exchange ends
    (after the response, or after the last chunk of a stream), whatever the outcome.
    """

    request: ChatRequest
    endpoint: str
    trace: RouteTrace = field(default_factory=RouteTrace)
    started: float = field(default_factory=time.perf_counter)
    started_at: float = field(default_factory=time.time)  # wall clock, for records
    usage: Usage | None = None
    first_token_at: float | None = None
    outcome: str = "ok"
    deployment: Deployment | None = None  # who served it (None: no upstream answered)
    cache_hit: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    end_user: str | None = None
    # Set by metering: cost in USD and where its token figures came from.
    cost: float | None = None
    usage_source: str = "none"  # provider | estimated | none
    # Characters of answer text seen, for estimating tokens when the upstream reports none.
    output_chars: int = 0
    # The answer's text, kept only when a stage asks for it by setting a list (the audit
    # trail at logging level `full` or `redacted`).
    answer: list[str] | None = None
    # The policy's decision for this request (None: no policy stage ran), the allow-list
    # it gives the router, and what the guardrails found and did (for audit and metrics).
    policy: Decision | None = None
    allow: RouteFilter | None = None
    findings: list[AppliedFinding] = field(default_factory=list)
    # Headers a stage wants on the answer (rate-limit state, cache status); the API adds them.
    response_headers: dict[str, str] = field(default_factory=dict)
    finalizers: list[Finalizer] = field(default_factory=list)
    # Timed steps for the request's trace (name, perf_counter start, end, attributes);
    # None when it is not traced, so stages skip the bookkeeping.
    spans: list[tuple[str, float, float, dict[str, Any]]] | None = None
    # Async clean-ups for a stream the caller never consumed (see ChatService.finish_stream).
    abandon_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    ended: bool = False
    # The registry prompt version the request was rendered from (service/prompts.py).
    prompt_id: str | None = None
    prompt_version: int | None = None

    def on_end(self, finalizer: Finalizer) -> None:
        self.finalizers.append(finalizer)


class ExchangeObserver(Protocol):
    """Sees exchanges begin answering and end; runs off the critical path, must not raise.

    `answering` is called just before the first byte of the answer is sent (for a stream,
    before its response headers): the durability point of the spend ledger. For a
    complete response `ended` also runs before its first byte (docs/adr/0007).
    """

    def answering(self, exchange: Exchange) -> None: ...

    def ended(self, exchange: Exchange) -> None: ...


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
