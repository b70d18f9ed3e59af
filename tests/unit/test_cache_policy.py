"""Cache policy: gateway defaults, app settings, request headers, what is never cached."""

from __future__ import annotations

from typing import Any

import pytest

from pavedroad.cache.policy import (
    AppCacheSettings,
    CachePolicy,
    Directives,
    app_cache_settings,
    skip_reason,
)
from pavedroad.config import ConfigError, load_settings
from pavedroad.config.cache import CacheConfig, SemanticCacheConfig
from pavedroad.core.errors import InvalidRequest

CONFIG = CacheConfig(enabled=True, default_ttl_seconds=60,
                     semantic=SemanticCacheConfig(embedding_model="embed", threshold=0.9))


def test_app_settings_override_the_gateway_defaults() -> None:
    default = CachePolicy.resolve(CONFIG, AppCacheSettings(), semantic_available=True)
    assert (default.enabled, default.ttl, default.semantic, default.threshold) == \
        (True, 60, False, 0.9)
    app = app_cache_settings({"cache": {"enabled": False, "ttl_seconds": 5, "semantic": True,
                                        "threshold": 0.99, "cache_sampled": False}})
    policy = CachePolicy.resolve(CONFIG, app, semantic_available=True)
    assert (policy.enabled, policy.ttl, policy.semantic, policy.threshold,
            policy.cache_sampled) == (False, 5, True, 0.99, False)
    # Without an embedding model, an app cannot switch the semantic cache on.
    assert not CachePolicy.resolve(CONFIG, app, semantic_available=False).semantic


@pytest.mark.parametrize(("settings", "param"), [
    ({"cache": {"ttl_second": 5}}, "settings.cache.ttl_second"),
    ({"cache": {"ttl_seconds": -1}}, "settings.cache.ttl_seconds"),
    ({"cache": {"threshold": 1.5}}, "settings.cache.threshold"),
    ({"cache": "on"}, "settings.cache"),
])
def test_bad_app_settings_name_the_field(settings: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        app_cache_settings(settings)
    assert caught.value.param == param


def test_other_features_settings_are_not_the_caches_business() -> None:
    assert app_cache_settings({"guardrails": {"pii": True}}) == AppCacheSettings()
    assert app_cache_settings(None) == AppCacheSettings()


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, Directives()),
    ({"cache-control": "no-store"}, Directives(read=False, write=False)),
    ({"cache-control": "No-Cache"}, Directives(read=False, write=True)),
    ({"cache-control": "max-age=30, no-cache"}, Directives(read=False, max_age=30)),
    ({"x-pavedroad-cache-ttl": "120"}, Directives(ttl=120)),
    ({"x-pavedroad-cache-ttl": "0"}, Directives(write=False, ttl=0)),
    ({"cache-control": "private"}, Directives()),
])
def test_request_headers(headers: dict[str, str], expected: Directives) -> None:
    assert Directives.from_headers(headers) == expected


@pytest.mark.parametrize("headers", [
    {"x-pavedroad-cache-ttl": "soon"}, {"x-pavedroad-cache-ttl": "-1"},
    {"x-pavedroad-cache-ttl": "inf"}, {"cache-control": "max-age=x"},
])
def test_bad_request_headers_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest):
        Directives.from_headers(headers)


def _policy(cache_sampled: bool) -> CachePolicy:
    return CachePolicy.resolve(CONFIG, AppCacheSettings(cache_sampled=cache_sampled),
                               semantic_available=False)


@pytest.mark.parametrize(("body", "sampled_ok", "deterministic_only"), [
    ({}, None, "sampled"),
    ({"temperature": 0}, None, None),
    ({"temperature": 0.7}, None, "sampled"),
    ({"temperature": 0, "n": 3}, None, "sampled"),
    ({"temperature": 0, "logprobs": True}, "logprobs", "logprobs"),
    ({"temperature": 0, "modalities": ["text", "audio"]}, "audio", "audio"),
])
def test_what_is_never_cached_and_the_sampling_rule(
    body: dict[str, Any], sampled_ok: str | None, deterministic_only: str | None
) -> None:
    assert skip_reason(body, _policy(True)) == sampled_ok
    assert skip_reason(body, _policy(False)) == deterministic_only


def test_the_config_checks_itself() -> None:
    with pytest.raises(ValueError, match="embedding_model"):
        SemanticCacheConfig(enabled=True)
    with pytest.raises(ValueError, match="max_entry_bytes"):
        CacheConfig(max_bytes=2048, max_entry_bytes=4096)


CACHE_YAML = """
deployments: [{name: d, provider: openai_compatible, model: m, api_base: "http://x/v1"}]
models:
  - {name: chat, route: d}
  - {name: vectors, kind: embedding, route: d}
cache: {enabled: true, semantic: {enabled: true, embedding_model: %s}}
"""


@pytest.mark.parametrize(("model", "problem"), [
    ("chat", "'chat' is a model of kind 'chat'"),
    ("nothing", "'nothing' is not a model"),
])
def test_the_embedding_model_must_be_an_embedding_model(model: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(text=CACHE_YAML % model, env={})
    (found,) = caught.value.problems
    assert found.path == "cache.semantic.embedding_model" and problem in found.message
    assert "known: vectors" in found.message
    settings = load_settings(text=CACHE_YAML % "vectors", env={})
    assert settings.cache.semantic.embedding_model == "vectors"
