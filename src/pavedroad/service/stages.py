"""The built-in pipeline stages of the gateway core."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any

from pavedroad.core.errors import (
    InvalidRequest,
    ModelNotAllowed,
    PavedroadError,
    UpstreamError,
    UpstreamTimeout,
)
from pavedroad.core.types import Usage
from pavedroad.metering.tokens import answer_chars, chunk_chars
from pavedroad.routing.router import Router, StreamStart
from pavedroad.service.pipeline import (
    ChatResult,
    ChatStream,
    Exchange,
    Next,
    StreamFailure,
    StreamItem,
)


class ModelAccess:
    """The caller's key must be scoped to the model (or tier) it asks for."""

    def __init__(self, router: Router) -> None:
        self._router = router

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        request = exchange.request
        model = self._router.model(request.model)  # unknown model: 404 before 403
        if model.kind != "chat":
            raise InvalidRequest(f"model {request.model!r} is an embedding model; "
                                 "send it to /v1/embeddings", param="model")
        if not request.caller.may_use(request.model):
            raise ModelNotAllowed(
                f"this key may not use model {request.model!r}; "
                "ask an administrator to widen the key's models", param="model")
        return await call_next(exchange)


class RouteAndCall:
    """The terminal stage: route to a deployment and call it (retries, fallback)."""

    def __init__(
        self, router: Router, *, on_answering: Callable[[Exchange], None],
        on_done: Callable[[Exchange], None],
    ) -> None:
        self._router = router
        self._on_answering = on_answering
        self._on_done = on_done

    async def __call__(self, exchange: Exchange) -> ChatResult:
        if not exchange.request.stream:
            response, dep = await self._router.chat(exchange.request, exchange.trace,
                                                    allow=exchange.allow)
            exchange.usage = response.usage
            if response.usage is None:
                exchange.output_chars = answer_chars(response.body)
            if exchange.answer is not None:
                exchange.answer.extend(answer_texts(response.body))
            exchange.deployment = dep
            return response
        start = await self._router.open_stream(exchange.request, exchange.trace,
                                               allow=exchange.allow)
        exchange.deployment = start.deployment
        exchange.first_token_at = time.perf_counter()
        # Before the response headers go out, not at the first chunk: once a caller holds
        # the status line, the ledger must already know the request (docs/adr/0007).
        self._on_answering(exchange)
        relay = _Relay(self._router, exchange, start, on_done=self._on_done)
        exchange.abandon_hooks.append(relay.abandon)
        return ChatStream(exchange, relay.items())


class _Relay:
    """Relays one upstream stream and settles it exactly once.

    Settling (close the upstream, give the breaker its verdict, free the deployment's
    permit, end the exchange) happens when the relay finishes, fails or is closed, or via
    `abandon` when the caller left before the first chunk was even pulled.
    """

    def __init__(self, router: Router, exchange: Exchange, start: StreamStart, *,
                 on_done: Callable[[Exchange], None]) -> None:
        self._router = router
        self._exchange = exchange
        self._start = start
        self._on_done = on_done
        self._settled = False

    async def items(self) -> AsyncGenerator[StreamItem, None]:
        """Pass chunks through; a failure after the first chunk ends in a StreamFailure."""
        exchange, start = self._exchange, self._start
        keep_usage = exchange.request.include_usage
        deadline = start.started + start.deployment.timeouts.total
        try:
            chunk = start.first
            while chunk is not None:
                exchange.output_chars += chunk_chars(chunk)
                if exchange.answer is not None:
                    exchange.answer.extend(delta_texts(chunk))
                usage = chunk.get("usage")
                if usage:
                    exchange.usage = Usage.from_openai(usage)
                if keep_usage or not (usage and not chunk.get("choices")):
                    yield chunk
                try:
                    async with asyncio.timeout(max(0.0, deadline - time.perf_counter())):
                        chunk = await anext(start.rest)
                except StopAsyncIteration:
                    chunk = None
        except (UpstreamError, TimeoutError) as exc:
            error: PavedroadError = exc if isinstance(exc, UpstreamError) else UpstreamTimeout(
                f"deployment {start.deployment.name!r} exceeded its total time limit")
            exchange.outcome = error.code
            yield StreamFailure(error)
        except (GeneratorExit, asyncio.CancelledError):
            exchange.outcome = "client_closed"
            raise
        finally:
            await self._settle()

    async def abandon(self) -> None:
        if not self._settled:
            self._exchange.outcome = "client_closed"
            await self._settle()

    async def _settle(self) -> None:
        if self._settled:
            return
        self._settled = True
        exchange, start = self._exchange, self._start
        await _close(start.rest)
        self._router.stream_ended(start.deployment, exchange.trace, exchange.outcome)
        if start.permit is not None:  # the deployment's concurrency slot and tokens
            start.permit.close(exchange.usage)
        self._on_done(exchange)


async def _close(stream: AsyncIterator[object]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(RuntimeError, UpstreamError):
            await aclose()


def answer_texts(body: Mapping[str, Any]) -> list[str]:
    """The answer text of a complete `chat.completion` (for an audit that keeps it)."""
    choices = body.get("choices")
    return [choice["message"]["content"] for choice in choices or ()
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict)
            and isinstance(choice["message"].get("content"), str)]


def delta_texts(chunk: Mapping[str, Any]) -> list[str]:
    """The answer text in one stream chunk."""
    return [choice["delta"]["content"] for choice in chunk.get("choices") or ()
            if isinstance(choice, dict) and isinstance(choice.get("delta"), dict)
            and isinstance(choice["delta"].get("content"), str)]
