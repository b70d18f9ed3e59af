"""The `cache:` settings: the exact-match response cache and the optional semantic cache.

docs/configuration.md documents every field; docs/adr/0009-response-cache.md says why.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SemanticCacheConfig(_Strict):
    """Answers for prompts that mean the same; scoped by tenant, app and model."""

    enabled: bool = False
    embedding_model: str | None = None
    threshold: float = Field(default=0.95, gt=0, le=1)
    max_entries_per_scope: int = Field(default=1000, ge=1, le=1_000_000)
    max_scopes: int = Field(default=256, ge=1)

    @model_validator(mode="after")
    def _needs_model(self) -> SemanticCacheConfig:
        if self.enabled and not self.embedding_model:
            raise ValueError("the semantic cache needs `embedding_model`: a model of kind "
                             "`embedding` that this gateway serves")
        return self


class CacheConfig(_Strict):
    """Gateway-wide defaults; an app's `settings.cache` overrides the per-app ones."""

    enabled: bool = False
    # None: Redis when `redis.url` is set (shared by every replica), else this process.
    backend: Literal["memory", "redis"] | None = None
    default_ttl_seconds: float = Field(default=3600.0, gt=0)
    max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_entry_bytes: int = Field(default=1024 * 1024, ge=256)
    cache_sampled: bool = True
    finish_reasons: tuple[str, ...] = ("stop", "tool_calls")
    semantic: SemanticCacheConfig = Field(default_factory=SemanticCacheConfig)

    @model_validator(mode="after")
    def _entry_fits(self) -> CacheConfig:
        if self.max_entry_bytes > self.max_bytes:
            raise ValueError("max_entry_bytes must not exceed max_bytes")
        return self
