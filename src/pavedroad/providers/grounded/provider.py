"""The grounded model as a provider: search a collection, quote, cite; no generation.

The deployment's `model` names the collection it answers from (a request's `retrieval`
field overrides it); `params` may set `k`, `mode`, `max_sentences` and `min_coverage`.
It runs in-process, so it needs no API key or base URL, and reports no usage: the
gateway estimates it and the price is zero (docs/adr/0015).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import SecretStr

from pavedroad.config.models import DeploymentConfig
from pavedroad.core.errors import CollectionNotFound, InvalidRequest, ServiceUnavailable
from pavedroad.core.ids import new_id
from pavedroad.core.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ChunkStream,
    EmbeddingRequest,
    EmbeddingResponse,
    Timeouts,
)
from pavedroad.metering.tokens import estimate_prompt_tokens, tokens_for_chars
from pavedroad.providers.base import Capabilities
from pavedroad.rag.chat_context import (
    RETRIEVED,
    CallerRetriever,
    RetrievalSpec,
    parse_spec,
    question_of,
    search_all,
)
from pavedroad.rag.grounded import MAX_SENTENCES, MIN_COVERAGE, GroundedAnswer, citation_payload, compose

_PARAMS = {"k", "mode", "max_sentences", "min_coverage"}


class GroundedProvider:
    capabilities = Capabilities(embeddings=False, tools=False, json_schema=False,
                                multiple_choices=False)

    def __init__(self, config: DeploymentConfig) -> None:
        unknown = set(config.params) - _PARAMS
        if unknown:
            raise ValueError(f"params: unknown for the grounded provider: {', '.join(sorted(unknown))}"
                             f" (known: {', '.join(sorted(_PARAMS))})")
        params = config.params
        self._name = config.name
        try:
            self._spec = parse_spec({"collections": [config.model],
                                     **{k: params[k] for k in ("k", "mode") if k in params}})
        except InvalidRequest as exc:  # reported as a config problem, with its location
            raise ValueError(f"params: {exc.message}".replace("`retrieval.", "`")) from None
        self._max_sentences = params.get("max_sentences", MAX_SENTENCES)
        self._min_coverage = params.get("min_coverage", MIN_COVERAGE)
        if (isinstance(self._max_sentences, bool) or not isinstance(self._max_sentences, int)
                or not 1 <= self._max_sentences <= 20):
            raise ValueError("params: `max_sentences` must be an integer between 1 and 20")
        if (isinstance(self._min_coverage, bool) or not isinstance(self._min_coverage, int | float)
                or not 0 <= self._min_coverage <= 1):
            raise ValueError("params: `min_coverage` must be a number between 0 and 1")
        self._retriever: CallerRetriever | None = None

    def bind_retriever(self, retriever: CallerRetriever) -> None:
        self._retriever = retriever

    async def answer(self, request: ChatRequest) -> GroundedAnswer:
        """The composed answer for `request` (its question, its collections)."""
        retrieved = RETRIEVED.get()
        if retrieved is not None:  # the retrieval stage already searched: cite the same hits
            spec, query, hits = retrieved.spec, retrieved.query, list(retrieved.hits)
        else:
            spec, query = self._spec_of(request), question_of(request.body)
            if not query.strip():
                raise InvalidRequest("the grounded model answers the last user message, and "
                                     "there is none with text", param="messages")
            if self._retriever is None:
                raise ServiceUnavailable(f"deployment {self._name!r}: retrieval is not "
                                         "running in this gateway")
            # The deployment's own collection is the administrator's choice; collections a
            # request names are checked against the caller's app.
            own = spec is self._spec
            try:
                hits = await search_all(self._retriever, spec, query,
                                        caller=None if own else request.caller)
            except CollectionNotFound:
                if not own:
                    raise
                raise ServiceUnavailable(
                    f"deployment {self._name!r} answers from collection {spec.collections[0]!r}, "
                    "which does not exist yet: create it and ingest documents (pavedroad "
                    f"ingest PATH --collection {spec.collections[0]})") from None
        return compose(query, hits, collection=", ".join(spec.collections),
                       max_sentences=self._max_sentences, min_coverage=self._min_coverage)

    def _spec_of(self, request: ChatRequest) -> RetrievalSpec:
        value = request.body.get("retrieval")
        return self._spec if value is None else parse_spec(value)

    async def chat(self, request: ChatRequest, *, timeouts: Timeouts) -> ChatResponse:
        answer = await self.answer(request)
        body = _completion(request.model, answer)
        body["usage"] = _usage(request, answer)
        # The figures are estimates: reported to the caller, but left out of `usage` so
        # metering records them as estimated, not as a provider's count.
        return ChatResponse(body, None)

    async def open_stream(self, request: ChatRequest, *, timeouts: Timeouts) -> ChunkStream:
        answer = await self.answer(request)  # before returning: errors fall back like HTTP
        return _chunks(request, answer)

    async def embed(self, request: EmbeddingRequest, *, timeouts: Timeouts) -> EmbeddingResponse:
        raise InvalidRequest(f"deployment {self._name!r} is the grounded chat model; it does "
                             "not embed", param="model")


def _citations(answer: GroundedAnswer) -> list[dict[str, Any]]:
    return [citation_payload(i, hit) for i, hit in enumerate(answer.sources, start=1)]


def _usage(request: ChatRequest, answer: GroundedAnswer) -> dict[str, int]:
    prompt = estimate_prompt_tokens(request.body)
    completion = tokens_for_chars(len(answer.text))
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _completion(model: str, answer: GroundedAnswer) -> dict[str, Any]:
    return {
        "id": new_id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                     "finish_reason": "stop", "logprobs": None}],
        "citations": _citations(answer),
    }


async def _chunks(request: ChatRequest, answer: GroundedAnswer) -> AsyncIterator[ChatChunk]:
    base = {"id": new_id("chatcmpl"), "object": "chat.completion.chunk",
            "created": int(time.time()), "model": request.model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> ChatChunk:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                     "logprobs": None}]}

    yield chunk({"role": "assistant", "content": ""})
    lines = answer.text.split("\n")
    for i, line in enumerate(lines):
        yield chunk({"content": line + ("\n" if i < len(lines) - 1 else "")})
    yield chunk({}, "stop")
    yield {**base, "choices": [], "citations": _citations(answer)}
    if request.include_usage:
        yield {**base, "choices": [], "usage": _usage(request, answer)}


def grounded(config: DeploymentConfig, api_key: SecretStr | None, transport: Any) -> GroundedProvider:
    """The plugin factory (provider kind `grounded`)."""
    return GroundedProvider(config)
