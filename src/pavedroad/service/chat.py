"""The chat and embeddings use cases: build the exchange, run the pipeline, observe."""

from __future__ import annotations

import time
from collections.abc import Sequence

from pavedroad.core.errors import InvalidRequest, ModelNotAllowed, PavedroadError
from pavedroad.core.types import ChatRequest, EmbeddingRequest, EmbeddingResponse
from pavedroad.routing.router import Router, RouteTrace
from pavedroad.service.pipeline import ChatResult, ChatStream, Exchange, Stage, compose
from pavedroad.service.stages import ModelAccess, RouteAndCall
from pavedroad.telemetry.metrics import GatewayMetrics


class ChatService:
    def __init__(
        self, router: Router, metrics: GatewayMetrics, *, stages: Sequence[Stage] = ()
    ) -> None:
        self._router = router
        self._metrics = metrics
        terminal = RouteAndCall(router, on_done=self.observe)
        self._pipeline = compose([ModelAccess(router), *stages], terminal)

    async def run(self, request: ChatRequest, *, endpoint: str) -> tuple[ChatResult, Exchange]:
        """Answer a request. Streams are observed when they end; others here."""
        exchange = Exchange(request, endpoint)
        try:
            result = await self._pipeline(exchange)
        except PavedroadError as exc:
            exchange.outcome = exc.code
            self.observe(exchange)
            exc.details.setdefault("route", exchange.trace.header())
            raise
        if not isinstance(result, ChatStream):
            self.observe(exchange)
        return result, exchange

    def observe(self, exchange: Exchange) -> None:
        """Off the response path: metrics now; audit and ledger hook in here later."""
        model = exchange.request.model
        self._metrics.request(exchange.endpoint, model, exchange.outcome,
                              time.perf_counter() - exchange.started)
        if exchange.first_token_at is not None:
            self._metrics.ttft.labels(model).observe(exchange.first_token_at - exchange.started)
        if exchange.usage is not None:
            self._metrics.tokens.labels(model, "prompt").inc(exchange.usage.prompt_tokens)
            self._metrics.tokens.labels(model, "completion").inc(exchange.usage.completion_tokens)


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
