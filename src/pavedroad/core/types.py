"""Canonical request and response values that flow through the pipeline.

The canonical wire shape is OpenAI's Chat Completions format held as plain dicts (see
docs/adr/0002-canonical-format.md): requests in that format pass through with no copy,
and every other format translates to and from it at the edge.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
ChatChunk = JSON  # one OpenAI `chat.completion.chunk`
ChunkStream = AsyncIterator[ChatChunk]


@dataclass(slots=True, frozen=True)
class Caller:
    """Who is calling: the resolved virtual key (or the master key)."""

    key_id: str
    name: str
    models: frozenset[str] | None  # None: every model
    is_admin: bool = False
    team: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: Any) -> Usage | None:
        if not isinstance(usage, dict):
            return None
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens", 0) if isinstance(details, dict) else 0
        return cls(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=int(cached or 0),
        )


@dataclass(slots=True)
class ChatRequest:
    """A chat request in canonical form, plus what routing may look at."""

    model: str
    body: JSON
    request_id: str
    caller: Caller
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options")
        return isinstance(options, dict) and bool(options.get("include_usage"))


@dataclass(slots=True)
class ChatResponse:
    """A complete chat response in canonical form.

    `raw` keeps the upstream's bytes when they are already the canonical format, so
    the common OpenAI-to-OpenAI path answers without serialising twice.
    """

    body: JSON
    usage: Usage | None = None
    raw: bytes | None = None


@dataclass(slots=True)
class EmbeddingRequest:
    model: str
    body: JSON
    request_id: str
    caller: Caller
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class EmbeddingResponse:
    body: JSON
    usage: Usage | None = None
    raw: bytes | None = None


@dataclass(slots=True, frozen=True)
class Timeouts:
    """Per-attempt time limits, in seconds."""

    connect: float = 5.0
    first_token: float = 30.0
    total: float = 600.0
