"""OpenAI-compatible routes: chat completions (streaming too), embeddings, models."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.attribution import attribution
from pavedroad.api.context import caller_of, gateway_of, request_id_of
from pavedroad.api.errors import error_body
from pavedroad.api.parsing import read_json, validate_chat, validate_embedding
from pavedroad.api.streaming import SettlingStreamingResponse
from pavedroad.core.types import ChatRequest, EmbeddingRequest
from pavedroad.service.pipeline import ChatStream, StreamFailure, StreamItem


def _json(body: bytes, headers: dict[str, str]) -> Response:
    return Response(body, media_type="application/json", headers=headers)


async def chat_completions(request: Request) -> Response:
    gateway = gateway_of(request)
    caller = caller_of(request)
    data = await read_json(request, limit=gateway.settings.server.max_body_bytes)
    body = validate_chat(data)
    tags, end_user = attribution(request, caller, body_user=body.user)
    chat = ChatRequest(model=body.model, body=data, request_id=request_id_of(request),
                       caller=caller, headers=request.headers)
    result, exchange = await gateway.chat.run(chat, endpoint="chat", tags=tags,
                                              end_user=end_user)
    headers = {**exchange.response_headers, "x-pavedroad-route": exchange.trace.header()}
    if isinstance(result, ChatStream):
        return SettlingStreamingResponse(
            openai_sse(result.items), headers=headers,
            settle=lambda: gateway.chat.finish_stream(result))
    raw = result.raw if result.raw is not None else orjson.dumps(result.body)
    return _json(raw, headers)


async def openai_sse(items: AsyncGenerator[StreamItem, None]) -> AsyncIterator[bytes]:
    """Chunks as `data:` events; `[DONE]` only after a clean end, an error event otherwise."""
    async with contextlib.aclosing(items):  # settle the relay now, not at garbage collection
        async for item in items:
            if isinstance(item, StreamFailure):
                yield b"data: " + orjson.dumps(error_body(item.error)) + b"\n\n"
                return
            yield b"data: " + orjson.dumps(item) + b"\n\n"
    yield b"data: [DONE]\n\n"


async def embeddings(request: Request) -> Response:
    gateway = gateway_of(request)
    caller = caller_of(request)
    data = await read_json(request, limit=gateway.settings.server.max_body_bytes)
    body = validate_embedding(data)
    embed = EmbeddingRequest(model=body.model, body=data, request_id=request_id_of(request),
                             caller=caller, headers=request.headers)
    response, trace = await gateway.embeddings.run(embed)
    raw = response.raw if response.raw is not None else orjson.dumps(response.body)
    return _json(raw, {"x-pavedroad-route": trace.header()})


async def list_models(request: Request) -> Response:
    gateway = gateway_of(request)
    caller = caller_of(request)
    created = int(gateway.started_at)
    router = gateway.router
    data = [
        {"id": m.name, "object": "model", "created": created,
         "owned_by": "pavedroad", "kind": m.kind, "description": m.description}
        for m in gateway.settings.models
        if caller.may_use(m.name) and router.available(m.name)
    ]
    return _json(orjson.dumps({"object": "list", "data": data}), {})
