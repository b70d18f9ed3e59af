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
class Limits:
    """Rate limits of one subject (key, app, team, tenant, deployment); None: unlimited."""

    rpm: int | None = None
    tpm: int | None = None
    concurrent: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Limits:
        data = data or {}
        return cls(rpm=data.get("rpm"), tpm=data.get("tpm"), concurrent=data.get("concurrent"))

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in (("rpm", self.rpm), ("tpm", self.tpm),
                                  ("concurrent", self.concurrent)) if v is not None}

    @property
    def empty(self) -> bool:
        return self.rpm is None and self.tpm is None and self.concurrent is None


NO_LIMITS = Limits()


@dataclass(slots=True, frozen=True)
class Subject:
    """One level of the organisation a request belongs to, with its own limits."""

    id: str
    name: str
    limits: Limits = NO_LIMITS


@dataclass(slots=True, frozen=True)
class Caller:
    """Who is calling: the resolved virtual key, its app, team and tenant (or the master key)."""

    key_id: str
    name: str
    models: frozenset[str] | None  # None: every model
    is_admin: bool = False
    team: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    key_limits: Limits = NO_LIMITS
    app: Subject | None = None
    team_subject: Subject | None = None
    tenant: Subject | None = None
    tags: Mapping[str, str] = field(default_factory=dict)  # key and app defaults, merged
    fail_open: bool = True  # serve when the store is unreachable (the app's setting)
    # A `tenant_admin` key reads its tenant's admin data (audit, ledger, spend, budgets,
    # organisation); the master key reads everything (docs/adr/0012).
    tenant_admin: bool = False

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models


@dataclass(slots=True)
class Usage:
    """Token counts as a provider reports them. `prompt_tokens` includes the cached part
    (read from the provider's prompt cache) and the part written to that cache."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: Any) -> Usage | None:
        if not isinstance(usage, dict):
            return None
        details = usage.get("prompt_tokens_details")
        details = details if isinstance(details, dict) else {}
        # Cache writes: `prompt_tokens_details.cache_write_tokens` (what our Anthropic
        # translation and OpenRouter send) or a top-level `cache_creation_input_tokens`.
        written = details.get("cache_write_tokens") or usage.get("cache_creation_input_tokens")
        return cls(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=int(details.get("cached_tokens") or 0),
            cache_write_tokens=int(written or 0),
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
