"""The Provider protocol: canonical request in, canonical response or chunk stream out.

One instance serves one deployment. Adapters translate wire formats and foreign errors
into `core` types and `core.errors` classes; nothing above `providers/` knows which
provider it is talking to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from pavedroad.core.types import (
    ChatRequest,
    ChatResponse,
    ChunkStream,
    EmbeddingRequest,
    EmbeddingResponse,
    Timeouts,
)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider can do, declared as data so routing and docs can read it."""

    chat: bool = True
    streaming: bool = True
    embeddings: bool = True
    tools: bool = True
    json_schema: bool = True
    multiple_choices: bool = True
    wire_format: Literal["openai", "anthropic"] = "openai"


class Provider(Protocol):
    capabilities: Capabilities

    async def chat(self, request: ChatRequest, *, timeouts: Timeouts) -> ChatResponse:
        """One non-streaming completion."""
        ...

    async def open_stream(self, request: ChatRequest, *, timeouts: Timeouts) -> ChunkStream:
        """Start a stream; returns once the upstream accepted it (status checked).

        The iterator ends normally only after the upstream's terminal event; an early end
        or a broken connection raises `UpstreamStreamBroken`.
        """
        ...

    async def embed(self, request: EmbeddingRequest, *, timeouts: Timeouts) -> EmbeddingResponse:
        ...
