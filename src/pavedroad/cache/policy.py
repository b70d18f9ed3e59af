"""Who decides whether an answer is read from or written to the cache, and for how long.

Three levels, most specific last: the `cache:` settings (gateway defaults), the app's
`settings.cache` (set when the app is created), and the request's own headers
(`cache-control: no-store | no-cache | max-age=N`, `x-pavedroad-cache-ttl: N`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pavedroad.config.cache import CacheConfig
from pavedroad.core.errors import InvalidRequest

TTL_HEADER = "x-pavedroad-cache-ttl"


class AppCacheSettings(BaseModel):
    """An app's `settings.cache`; a field left out takes the gateway default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = None
    ttl_seconds: float | None = Field(default=None, gt=0)
    cache_sampled: bool | None = None
    semantic: bool | None = None
    threshold: float | None = Field(default=None, gt=0, le=1)


def app_cache_settings(settings: Mapping[str, Any] | None) -> AppCacheSettings:
    """Parse an app's settings; raises InvalidRequest naming the bad field."""
    raw = (settings or {}).get("cache")
    if raw is None:
        return AppCacheSettings()
    if not isinstance(raw, dict):
        raise InvalidRequest("`settings.cache` must be an object", param="settings.cache")
    try:
        return AppCacheSettings.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in ("settings", "cache", *error["loc"]))
        raise InvalidRequest(f"`{where}`: {error['msg']}", param=where) from None


@dataclass(slots=True, frozen=True)
class CachePolicy:
    """What applies to one app's requests."""

    enabled: bool
    ttl: float
    cache_sampled: bool
    semantic: bool
    threshold: float

    @classmethod
    def resolve(cls, config: CacheConfig, app: AppCacheSettings, *,
                semantic_available: bool) -> CachePolicy:
        semantic = app.semantic if app.semantic is not None else config.semantic.enabled
        return cls(
            enabled=app.enabled if app.enabled is not None else config.enabled,
            ttl=app.ttl_seconds or config.default_ttl_seconds,
            cache_sampled=(app.cache_sampled if app.cache_sampled is not None
                           else config.cache_sampled),
            semantic=semantic and semantic_available,
            threshold=app.threshold or config.semantic.threshold,
        )


@dataclass(slots=True, frozen=True)
class Directives:
    """The request's say: may it be answered from the cache, may its answer be kept."""

    read: bool = True
    write: bool = True
    ttl: float | None = None  # overrides the app's TTL for this answer
    max_age: float | None = None  # only entries at most this old may answer

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Directives:
        control = headers.get("cache-control")
        ttl_text = headers.get(TTL_HEADER)
        if control is None and ttl_text is None:
            return _DEFAULT
        read = write = True
        max_age: float | None = None
        for part in (control or "").lower().split(","):
            name, _, value = part.strip().partition("=")
            if name == "no-store":
                read = write = False
            elif name == "no-cache":
                read = False
            elif name == "max-age":
                max_age = _seconds(value, "cache-control max-age")
        ttl = _seconds(ttl_text, TTL_HEADER) if ttl_text is not None else None
        if ttl == 0:
            write = False
        return cls(read=read, write=write, ttl=ttl, max_age=max_age)


_DEFAULT = Directives()


def _seconds(text: str, what: str) -> float:
    try:
        value = float(text.strip().strip('"'))
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise InvalidRequest(f"`{what}` must be a number of seconds (0 or more), got {text!r}")
    return value


def skip_reason(body: Mapping[str, Any], policy: CachePolicy) -> str | None:
    """Why a request's answer must not come from or go to the cache; None if it may."""
    if body.get("logprobs"):
        return "logprobs"  # replayed streams do not carry per-token logprobs
    modalities = body.get("modalities")
    if body.get("audio") is not None or (
            isinstance(modalities, list) and any(m != "text" for m in modalities)):
        return "audio"
    if not policy.cache_sampled:
        n = body.get("n")
        temperature = body.get("temperature")
        if (isinstance(n, int) and n > 1) or not isinstance(temperature, int | float) \
                or temperature > 0:
            return "sampled"
    return None
