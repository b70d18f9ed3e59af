"""The Anthropic Messages API (`POST /v1/messages`), served through the same pipeline.

Requests translate to the canonical (OpenAI) form, so any deployment can serve them;
responses and stream events translate back.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.attribution import attribution
from pavedroad.api.context import caller_of, gateway_of, request_id_of
from pavedroad.api.parsing import MessagesBody, read_json, validate
from pavedroad.api.streaming import SettlingStreamingResponse
from pavedroad.core.types import ChatRequest
from pavedroad.formats import (
    OpenAIToAnthropicStream,
    anthropic_to_openai_request,
    openai_to_anthropic_response,
)
from pavedroad.service.pipeline import ChatStream, StreamFailure, StreamItem


async def messages(request: Request) -> Response:
    gateway = gateway_of(request)
    caller = caller_of(request)
    data = await read_json(request, limit=gateway.settings.server.max_body_bytes)
    body = validate(data, MessagesBody)
    canonical = anthropic_to_openai_request(data)
    metadata = data.get("metadata")
    tags, end_user = attribution(request, caller, body_user=metadata.get("user_id")
                                 if isinstance(metadata, dict) else None)
    chat = ChatRequest(model=body.model, body=canonical, request_id=request_id_of(request),
                       caller=caller, headers=request.headers)
    result, exchange = await gateway.chat.run(chat, endpoint="messages", tags=tags,
                                              end_user=end_user)
    headers = {**exchange.response_headers, "x-pavedroad-route": exchange.trace.header()}
    if isinstance(result, ChatStream):
        translator = OpenAIToAnthropicStream(model=body.model)
        return SettlingStreamingResponse(
            anthropic_sse(result.items, translator), headers=headers,
            settle=lambda: gateway.chat.finish_stream(result))
    answer = openai_to_anthropic_response(result.body, model=body.model)
    return Response(orjson.dumps(answer), media_type="application/json", headers=headers)


def _event(name: str, data: dict[str, object]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def anthropic_sse(
    items: AsyncGenerator[StreamItem, None], translator: OpenAIToAnthropicStream
) -> AsyncIterator[bytes]:
    """Anthropic events; a broken upstream ends in an `error` event, never `message_stop`."""
    async with contextlib.aclosing(items):  # settle the relay now, not at garbage collection
        async for item in items:
            if isinstance(item, StreamFailure):
                name, data = translator.error_event(item.error.code, item.error.message)
                yield _event(name, data)
                return
            for name, data in translator.feed(item):
                yield _event(name, data)
    for name, data in translator.finish():
        yield _event(name, data)
