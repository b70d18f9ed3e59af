"""The chat and embeddings use cases: build the exchange, run the pipeline, observe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence

from pavedroad.core.errors import InvalidRequest, ModelNotAllowed, PavedroadError
from pavedroad.core.types import ChatRequest, EmbeddingRequest, EmbeddingResponse
from pavedroad.routing.router import Router, RouteTrace
from pavedroad.service.pipeline import (
    ChatResult,
    ChatStream,
    Exchange,
    ExchangeObserver,
    Stage,
    StreamFailure,
    StreamItem,
    compose,
)
from pavedroad.service.stages import ModelAccess, RouteAndCall
from pavedroad.telemetry.metrics import GatewayMetrics

log = logging.getLogger("pavedroad.service")


class ChatService:
    """Runs chat exchanges through the pipeline and ends each exactly once."""

    def __init__(
        self,
        router: Router,
        metrics: GatewayMetrics,
        *,
        stages: Sequence[Stage] = (),
        observers: Sequence[ExchangeObserver] = (),
        meter: Callable[[Exchange], None] | None = None,
        sample_trace: Callable[[], bool] | None = None,
        complete: Sequence[Stage] = (),
    ) -> None:
        """`complete`: stages that finish the request before model access checks it (prompt
        rendering may supply the model)."""
        self._router = router
        self._metrics = metrics
        self._observers = list(observers)
        self._meter = meter
        self._sample_trace = sample_trace  # None: no traces (no OTLP endpoint configured)
        terminal = RouteAndCall(router, on_answering=self.answering, on_done=self.end)
        self._pipeline = compose([*complete, ModelAccess(router), *stages], terminal)

    async def run(
        self, request: ChatRequest, *, endpoint: str, tags: dict[str, str] | None = None,
        end_user: str | None = None,
    ) -> tuple[ChatResult, Exchange]:
        """Answer a request. Streams end when their last chunk is sent; others here.
        `tags` and `end_user` attribute its cost (the API resolves them from the request)."""
        exchange = Exchange(request, endpoint, tags=dict(request.caller.tags) if tags is None
                            else tags, end_user=end_user)
        if self._sample_trace is not None and self._sample_trace():
            exchange.spans = []
        try:
            result = await self._pipeline(exchange)
        except PavedroadError as exc:
            exchange.outcome = exc.code
            self.end(exchange)
            exc.details.setdefault("route", exchange.trace.header())
            raise
        except BaseException:
            exchange.outcome = "internal_error"
            self.end(exchange)
            raise
        if not isinstance(result, ChatStream):
            self.answering(exchange)
            self.end(exchange)
        elif exchange.deployment is None:
            # No upstream relays this stream (a cache replay), so nothing else would say
            # it is answering or end it: this service does both.
            self.answering(exchange)
            result = ChatStream(exchange, self._served(exchange, result.items))
        return result, exchange

    async def _served(
        self, exchange: Exchange, items: AsyncGenerator[StreamItem, None]
    ) -> AsyncGenerator[StreamItem, None]:
        try:
            async with contextlib.aclosing(items):
                async for item in items:
                    if isinstance(item, StreamFailure):
                        exchange.outcome = item.error.code
                    yield item
        except (GeneratorExit, asyncio.CancelledError):
            exchange.outcome = "client_closed"
            raise
        finally:
            self.end(exchange)

    async def finish_stream(self, stream: ChatStream) -> None:
        """Run after a streaming response, however it ended: a caller that left before the
        first chunk was pulled never started the relay, so settle it here (idempotent)."""
        exchange = stream.exchange
        if exchange.ended:
            return
        await stream.items.aclose()
        for hook in exchange.abandon_hooks:
            await hook()
        if not exchange.ended:
            exchange.outcome = "client_closed"
            self.end(exchange)

    def answering(self, exchange: Exchange) -> None:
        for observer in self._observers:
            try:
                observer.answering(exchange)
            except Exception:  # an observer must never fail a request
                log.exception("observer %r failed on answering", observer)

    def end(self, exchange: Exchange) -> None:
        """Meter, run the stages' finalizers (newest first), then tell observers."""
        if exchange.ended:
            return
        exchange.ended = True
        if self._meter is not None:
            self._meter(exchange)
        for finalizer in reversed(exchange.finalizers):
            try:
                finalizer(exchange)
            except Exception:
                log.exception("finalizer %r failed", finalizer)
        self._observe(exchange)
        for observer in self._observers:
            try:
                observer.ended(exchange)
            except Exception:
                log.exception("observer %r failed on end", observer)

    def _observe(self, exchange: Exchange) -> None:
        model = exchange.request.model
        self._metrics.request(exchange.endpoint, model, exchange.outcome,
                              time.perf_counter() - exchange.started)
        metrics = self._metrics
        if exchange.first_token_at is not None:
            metrics.child(metrics.ttft, model).observe(exchange.first_token_at - exchange.started)
        if exchange.usage is not None:
            metrics.child(metrics.tokens, model, "prompt").inc(exchange.usage.prompt_tokens)
            metrics.child(metrics.tokens, model, "completion").inc(
                exchange.usage.completion_tokens)


class EmbeddingService:
    def __init__(self, router: Router, metrics: GatewayMetrics) -> None:
        self._router = router
        self._metrics = metrics

    async def run(self, request: EmbeddingRequest) -> tuple[EmbeddingResponse, RouteTrace]:
        started = time.perf_counter()
        trace = RouteTrace()
        outcome = "ok"
        try:
            if self._router.model(request.model).kind != "embedding":
                raise InvalidRequest(f"model {request.model!r} is a chat model; embeddings need "
                                     "a model of kind `embedding`", param="model")
            if not request.caller.may_use(request.model):
                raise ModelNotAllowed(f"this key may not use model {request.model!r}",
                                      param="model")
            response, _ = await self._router.embed(request, trace)
            return response, trace
        except PavedroadError as exc:
            outcome = exc.code
            exc.details.setdefault("route", trace.header())
            raise
        finally:
            self._metrics.request("embeddings", request.model, outcome,
                                  time.perf_counter() - started)
