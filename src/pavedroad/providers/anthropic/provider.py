"""The Anthropic wire adapter: canonical (OpenAI-shaped) request in, translated both ways."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from pydantic import SecretStr

from pavedroad.config.models import DeploymentConfig
from pavedroad.core.errors import UpstreamBadResponse, UpstreamRejected, UpstreamStreamBroken
from pavedroad.core.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ChunkStream,
    EmbeddingRequest,
    EmbeddingResponse,
    Timeouts,
    Usage,
)
from pavedroad.formats import (
    AnthropicToOpenAIStream,
    anthropic_to_openai_response,
    openai_to_anthropic_request,
)
from pavedroad.providers.base import Capabilities
from pavedroad.providers.http_errors import error_for_status
from pavedroad.providers.sse import parse_events
from pavedroad.providers.transport import Transport

API_VERSION = "2023-06-01"


class AnthropicProvider:
    capabilities = Capabilities(embeddings=False, multiple_choices=False,
                                wire_format="anthropic")

    def __init__(self, config: DeploymentConfig, transport: Transport, *, api_key: str | None,
                 base: str) -> None:
        self._config = config
        self._transport = transport
        self._url = f"{base}/v1/messages"
        self._headers = {"content-type": "application/json", "anthropic-version": API_VERSION,
                         **config.headers}
        if api_key:
            self._headers["x-api-key"] = api_key

    def _body(self, request: ChatRequest, *, stream: bool) -> bytes:
        source = {**self._config.params, **request.body} if self._config.params else request.body
        body = openai_to_anthropic_request(source, model=self._config.model)
        if stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
        return orjson.dumps(body)

    async def chat(self, request: ChatRequest, *, timeouts: Timeouts) -> ChatResponse:
        response = await self._transport.post(
            self._url, headers=self._headers, body=self._body(request, stream=False),
            timeouts=timeouts)
        if response.status >= 400:
            raise error_for_status(response.status, response.headers, response.body,
                                   deployment=self._config.name)
        try:
            data = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise UpstreamBadResponse(
                f"deployment {self._config.name!r} returned a body that is not a JSON object")
        body = anthropic_to_openai_response(data, model=request.model)
        return ChatResponse(body, Usage.from_openai(body.get("usage")))

    async def open_stream(self, request: ChatRequest, *, timeouts: Timeouts) -> ChunkStream:
        stream = await self._transport.open_stream(
            self._url, headers=self._headers, body=self._body(request, stream=True),
            timeouts=timeouts)
        if stream.status >= 400:
            payload = await stream.read()
            stream.close()
            raise error_for_status(stream.status, stream.headers, payload,
                                   deployment=self._config.name)
        # Usage is always reported so metering sees it; the service drops the usage chunk
        # when the caller did not ask for it.
        translator = AnthropicToOpenAIStream(model=request.model, include_usage=True)
        return self._chunks(stream.lines(), translator, stream.close)

    async def _chunks(
        self, lines: AsyncIterator[bytes], translator: AnthropicToOpenAIStream,
        close: Callable[[], None],
    ) -> AsyncIterator[ChatChunk]:
        name = self._config.name
        try:
            async for event in parse_events(lines):
                try:
                    data: Any = orjson.loads(event.data)
                except orjson.JSONDecodeError:
                    raise UpstreamStreamBroken(
                        f"deployment {name!r} sent a stream event that is not JSON") from None
                if not isinstance(data, dict):
                    raise UpstreamStreamBroken(f"deployment {name!r} sent a non-object event")
                for chunk in translator.feed(str(data.get("type") or event.event), data):
                    yield chunk
                if translator.finished:
                    return
            raise UpstreamStreamBroken(
                f"deployment {name!r} ended the stream without message_stop")
        finally:
            close()

    async def embed(self, request: EmbeddingRequest, *, timeouts: Timeouts) -> EmbeddingResponse:
        raise UpstreamRejected(
            f"deployment {self._config.name!r} (Anthropic) does not serve embeddings")


def anthropic(
    config: DeploymentConfig, api_key: SecretStr | None, transport: Transport
) -> AnthropicProvider:
    base = config.api_base or "https://api.anthropic.com"
    if config.api_base is None and api_key is None:
        raise ValueError("provider `anthropic` needs `api_key` (e.g. env:ANTHROPIC_API_KEY)")
    return AnthropicProvider(config, transport, base=base.removesuffix("/v1"),
                             api_key=api_key.get_secret_value() if api_key else None)
