"""The OpenAI wire adapter. Canonical format is OpenAI's, so this is mostly pass-through."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import SecretStr

from pavedroad.config.models import DeploymentConfig
from pavedroad.core.errors import UpstreamBadResponse, UpstreamStreamBroken
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
from pavedroad.providers.base import Capabilities
from pavedroad.providers.http_errors import error_for_status
from pavedroad.providers.sse import parse_events
from pavedroad.providers.transport import Transport


class OpenAIProvider:
    """Speaks `/chat/completions` and `/embeddings` to one OpenAI-style endpoint."""

    capabilities = Capabilities(wire_format="openai")

    def __init__(
        self,
        config: DeploymentConfig,
        transport: Transport,
        *,
        chat_url: str,
        embeddings_url: str,
        auth_headers: dict[str, str],
        send_model: bool = True,
    ) -> None:
        self._config = config
        self._transport = transport
        self._chat_url = chat_url
        self._embeddings_url = embeddings_url
        self._send_model = send_model
        self._headers = {"content-type": "application/json", **config.headers, **auth_headers}

    def _body(self, source: dict[str, Any]) -> dict[str, Any]:
        body = {**self._config.params, **source} if self._config.params else dict(source)
        if self._send_model:
            body["model"] = self._config.model
        else:
            body.pop("model", None)
        return body

    def _check(self, status: int, headers: Any, payload: bytes) -> None:
        if status >= 400:
            raise error_for_status(status, headers, payload, deployment=self._config.name)

    def _decode(self, payload: bytes) -> dict[str, Any]:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise UpstreamBadResponse(
                f"deployment {self._config.name!r} returned a body that is not a JSON object"
            )
        return data

    async def chat(self, request: ChatRequest, *, timeouts: Timeouts) -> ChatResponse:
        body = self._body(request.body)
        body.pop("stream", None)
        body.pop("stream_options", None)
        response = await self._transport.post(
            self._chat_url, headers=self._headers, body=orjson.dumps(body), timeouts=timeouts
        )
        self._check(response.status, response.headers, response.body)
        data = self._decode(response.body)
        if not isinstance(data.get("choices"), list):
            raise UpstreamBadResponse(
                f"deployment {self._config.name!r} returned no `choices` list"
            )
        return ChatResponse(data, Usage.from_openai(data.get("usage")), raw=response.body)

    async def open_stream(self, request: ChatRequest, *, timeouts: Timeouts) -> ChunkStream:
        body = self._body(request.body)
        body["stream"] = True
        # Always ask for usage so metering sees real figures; the service strips the
        # usage chunk again when the caller did not ask for it.
        body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        stream = await self._transport.open_stream(
            self._chat_url, headers=self._headers, body=orjson.dumps(body), timeouts=timeouts
        )
        if stream.status >= 400:
            payload = await stream.read()
            stream.close()
            self._check(stream.status, stream.headers, payload)
        return self._chunks(stream.lines(), stream.close)

    async def _chunks(self, lines: AsyncIterator[bytes], close: Any) -> AsyncIterator[ChatChunk]:
        name = self._config.name
        try:
            async for event in parse_events(lines):
                if event.data == "[DONE]":
                    return
                try:
                    chunk = orjson.loads(event.data)
                except orjson.JSONDecodeError:
                    raise UpstreamStreamBroken(
                        f"deployment {name!r} sent a stream event that is not JSON"
                    ) from None
                if not isinstance(chunk, dict):
                    raise UpstreamStreamBroken(f"deployment {name!r} sent a non-object event")
                if "error" in chunk:
                    raise UpstreamStreamBroken(f"deployment {name!r} reported an error mid-stream")
                yield chunk
            raise UpstreamStreamBroken(f"deployment {name!r} ended the stream without [DONE]")
        finally:
            close()

    async def embed(self, request: EmbeddingRequest, *, timeouts: Timeouts) -> EmbeddingResponse:
        body = self._body(request.body)
        response = await self._transport.post(
            self._embeddings_url, headers=self._headers, body=orjson.dumps(body),
            timeouts=timeouts,
        )
        self._check(response.status, response.headers, response.body)
        data = self._decode(response.body)
        if not isinstance(data.get("data"), list):
            raise UpstreamBadResponse(f"deployment {self._config.name!r} returned no `data` list")
        return EmbeddingResponse(data, Usage.from_openai(data.get("usage")), raw=response.body)


def _bearer(api_key: SecretStr | None) -> dict[str, str]:
    return {"authorization": f"Bearer {api_key.get_secret_value()}"} if api_key else {}


def openai(config: DeploymentConfig, api_key: SecretStr | None, transport: Transport) -> OpenAIProvider:
    if api_key is None:
        raise ValueError("provider `openai` needs `api_key` (e.g. env:OPENAI_API_KEY)")
    base = config.api_base or "https://api.openai.com/v1"
    return OpenAIProvider(config, transport, chat_url=f"{base}/chat/completions",
                          embeddings_url=f"{base}/embeddings", auth_headers=_bearer(api_key))


def openai_compatible(
    config: DeploymentConfig, api_key: SecretStr | None, transport: Transport
) -> OpenAIProvider:
    if config.api_base is None:
        raise ValueError("provider `openai_compatible` needs `api_base` (e.g. http://host:8000/v1)")
    base = config.api_base
    return OpenAIProvider(config, transport, chat_url=f"{base}/chat/completions",
                          embeddings_url=f"{base}/embeddings", auth_headers=_bearer(api_key))


def azure_openai(
    config: DeploymentConfig, api_key: SecretStr | None, transport: Transport
) -> OpenAIProvider:
    if config.api_base is None or config.api_version is None or api_key is None:
        raise ValueError(
            "provider `azure_openai` needs `api_base` (https://NAME.openai.azure.com), "
            "`api_version` and `api_key`"
        )
    root = f"{config.api_base}/openai/deployments/{config.model}"
    query = f"?api-version={config.api_version}"
    return OpenAIProvider(
        config, transport,
        chat_url=f"{root}/chat/completions{query}", embeddings_url=f"{root}/embeddings{query}",
        auth_headers={"api-key": api_key.get_secret_value()}, send_model=False,
    )
