"""The settings model: everything pavedroad reads from its config file.

Unknown keys are errors (a typo must never be silently ignored). Every field has a
default that works on a fresh machine; docs/configuration.md documents each one and a
test keeps the two in step.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from pavedroad.config.cache import CacheConfig
from pavedroad.config.online_eval import OnlineEvalConfig
from pavedroad.config.policy import PolicyConfig, SafeModeConfig
from pavedroad.config.retrieval import RetrievalConfig
from pavedroad.config.routes import RouteNode
from pavedroad.config.telemetry import TelemetryConfig
from pavedroad.config.ui import UIConfig

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeoutsConfig(_Strict):
    """Per-attempt limits in seconds: to connect, to the first token, and in total."""

    connect: float = Field(default=5.0, gt=0)
    first_token: float = Field(default=30.0, gt=0)
    total: float = Field(default=600.0, gt=0)


class RetryConfig(_Strict):
    """Retries of the same deployment before routing moves on."""

    attempts: int = Field(default=1, ge=0, le=10)
    backoff_initial: float = Field(default=0.1, ge=0)
    backoff_max: float = Field(default=5.0, ge=0)
    # A Retry-After longer than this moves on to the next target instead of waiting.
    max_retry_after: float = Field(default=10.0, ge=0)


class BreakerConfig(_Strict):
    """Circuit breaker per deployment; on by default."""

    enabled: bool = True
    consecutive_failures: int = Field(default=5, ge=1)
    error_rate: float = Field(default=0.5, gt=0, le=1)
    window_seconds: float = Field(default=30.0, gt=0)
    min_requests: int = Field(default=20, ge=1)
    cooldown_seconds: float = Field(default=15.0, gt=0)
    half_open_probes: int = Field(default=1, ge=1)


class PricingConfig(_Strict):
    """Prices in USD per million tokens; overrides the shipped catalog for a deployment."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)  # default: the input price
    cache_write: float | None = Field(default=None, ge=0)  # default: the input price


class LimitsConfig(_Strict):
    """A deployment's own rate limits (its upstream quota); unlimited by default."""

    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    concurrent: int | None = Field(default=None, ge=1)


class DeploymentConfig(_Strict):
    """One upstream model endpoint that routes can reach."""

    name: str
    provider: str = Field(description="a registered provider kind, e.g. openai, anthropic")
    model: str = Field(min_length=1, description="the upstream's model id or deployment")
    api_base: str | None = None
    api_key: SecretStr | None = Field(
        default=None,
        description="env:NAME, secret:NAME (from secrets_file), file:PATH, or a literal",
    )
    api_version: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    retries: RetryConfig = Field(default_factory=RetryConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    region: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    # None: the shipped price catalog, by the upstream `model` (unpriced when unknown).
    pricing: PricingConfig | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits and . _ : / @ - (at most 128 characters)")
        return value

    @field_validator("api_base")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("api_base must start with http:// or https://")
        return value.rstrip("/") if value else value


class ModelConfig(_Strict):
    """A name callers use (a model or a tier such as `fast`) and the route that serves it."""

    name: str
    route: RouteNode
    kind: Literal["chat", "embedding"] = "chat"
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits and . _ : / @ - (at most 128 characters)")
        return value


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Freeze start-up objects and collect garbage less often (see api/runtime.py).
    tune_gc: bool = True


class StoreConfig(_Strict):
    url: str = "sqlite:///.pavedroad/pavedroad.db"


class RedisConfig(_Strict):
    """Shared state for several replicas: rate-limit counters, budgets and the response cache.

    Unset (`url: null`), each process keeps them in memory: the embedded default.
    """

    url: str | None = None
    max_connections: int = Field(default=64, ge=1, le=10_000)
    key_prefix: str = Field(default="pavedroad:", max_length=64)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("use redis://host:port/db, rediss:// (TLS) or unix:///path")
        return value

    @field_validator("key_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if "{" in value or "}" in value:
            raise ValueError("braces would change the keys' Redis Cluster hash slot")
        return value


class AuthConfig(_Strict):
    # How often keys and kill-switch state are re-read from the store.
    refresh_seconds: float = Field(default=0.5, gt=0, le=60)


class LedgerConfig(_Strict):
    """The spend ledger: a local journal written before answering, flushed to the store."""

    enabled: bool = True
    # None: `journal/` next to the SQLite file, or `.pavedroad/journal/<db>-<hash>` otherwise.
    journal_dir: Path | None = None
    fsync: bool = False  # fsync each record too: survives power loss, not only a crash
    flush_seconds: float = Field(default=0.5, gt=0, le=60)
    batch_records: int = Field(default=2000, ge=1)
    rotate_bytes: int = Field(default=16 * 1024 * 1024, ge=4096)


class MeteringConfig(_Strict):
    # Reservations: the completion tokens assumed when a request sets no max_tokens.
    reserve_max_tokens: int = Field(default=4096, ge=1)
    # Reservations: what a request to an unpriced deployment is assumed to cost.
    unpriced_reserve_usd: float = Field(default=0.0, ge=0)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)


class AuditConfig(_Strict):
    """The audit trail: a hash-chained record per request and admin action (ADR 0012)."""

    enabled: bool = True
    # What a request's record keeps of its content until a policy decides: full (prompt
    # and answer), redacted (PII redacted; nothing when no redactor is installed), metadata.
    level: Literal["full", "redacted", "metadata"] = "metadata"
    # A secret reference (env:, file:, secret:): every hash of the chain becomes an HMAC with
    # it, so editing the database alone cannot produce a chain that verifies (ADR 0012).
    hmac_key: SecretStr | None = None
    retention_days: float | None = Field(default=365.0, gt=0)  # None: kept for ever
    prune_seconds: float = Field(default=3600.0, gt=0)  # how often the retention job runs
    # None: `audit/` inside the ledger's journal directory.
    journal_dir: Path | None = None
    fsync: bool = False
    flush_seconds: float = Field(default=0.5, gt=0, le=60)


class Settings(_Strict):
    """The whole configuration. Built once at start-up and passed down."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    safe_mode: SafeModeConfig = Field(default_factory=SafeModeConfig)
    metering: MeteringConfig = Field(default_factory=MeteringConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    online_eval: OnlineEvalConfig = Field(default_factory=OnlineEvalConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    ui: UIConfig = Field(default_factory=UIConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    secrets_file: Path | None = None
    deployments: list[DeploymentConfig] = Field(default_factory=list)
    models: list[ModelConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _redis_for_the_cache(self) -> Settings:
        if self.cache.backend == "redis" and self.redis.url is None:
            raise ValueError("cache.backend is redis, but redis.url is not set")
        return self

    def deployment(self, name: str) -> DeploymentConfig:
        for dep in self.deployments:
            if dep.name == name:
                return dep
        raise KeyError(name)

