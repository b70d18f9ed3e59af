"""The price catalog (shipped defaults, overrides, unpriced) and the cost arithmetic."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from pavedroad.config.models import DeploymentConfig, ModelConfig
from pavedroad.core.types import Caller, ChatRequest, Usage
from pavedroad.metering.cost import (
    COST_HEADER,
    USAGE_SOURCE_HEADER,
    Meter,
    cost_of,
    format_usd,
    route_deployments,
    worst_case_cost,
)
from pavedroad.metering.metrics import MeteringMetrics
from pavedroad.metering.prices import Price, PriceCatalog, default_price
from pavedroad.metering.tokens import estimate_prompt_tokens
from pavedroad.routing.breaker import LocalBreaker
from pavedroad.routing.deployment import Deployment
from pavedroad.service.pipeline import Exchange


def dep(name: str, model: str, **extra: Any) -> DeploymentConfig:
    return DeploymentConfig(name=name, provider="openai_compatible", model=model,
                            api_base="http://127.0.0.1:1/v1", **extra)


@pytest.mark.parametrize(("model", "matched", "input_price"), [
    ("gpt-4o", "gpt-4o", 2.50),
    ("gpt-4o-2024-08-06", "gpt-4o", 2.50),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", 0.15),  # the longest prefix wins
    ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13", 5.00),  # an exact id beats its prefix
    ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano", 0.10),
    ("o3-mini-2025-01-31", "o3-mini", 1.10),
    ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet", 3.00),
    ("claude-sonnet-4-20250514", "claude-sonnet-4", 3.00),
    ("claude-opus-4-1-20250805", "claude-opus-4-1", 15.00),
    ("claude-3-5-haiku-latest", "claude-3-5-haiku", 0.80),
    ("openai/gpt-4o-mini", "gpt-4o-mini", 0.15),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet", 3.00),
    ("GPT-4o", "gpt-4o", 2.50),
])
def test_shipped_prices_match_dated_and_prefixed_ids(model: str, matched: str,
                                                     input_price: float) -> None:
    price = default_price(model)
    assert price is not None
    assert price.source == f"catalog:{matched}"
    assert price.input == input_price


@pytest.mark.parametrize("model", ["gpt-4oo", "gpt-4.5-preview-x", "llama3.2", "up-gpt", "o2",
                                   "claude-2"])
def test_unknown_ids_are_unpriced_and_prefixes_only_match_at_a_dash(model: str) -> None:
    # `gpt-4` must not price `gpt-4oo`, nor `gpt-4` price `gpt-4.5-…`.
    assert default_price(model) is None


def test_config_pricing_overrides_the_catalog_and_unknown_models_are_unpriced() -> None:
    catalog = PriceCatalog([
        dep("cheap-4o", "gpt-4o", pricing={"input": 1.0, "output": 2.0}),
        dep("plain-4o", "gpt-4o"),
        dep("local", "llama3.2"),
        dep("free", "llama3.2", pricing={"input": 0, "output": 0}),
    ])
    override = catalog.price("cheap-4o")
    assert override is not None and override.source == "config"
    assert (override.input, override.output) == (1.0, 2.0)
    assert override.cached_input_rate == 1.0 and override.cache_write_rate == 1.0  # defaults
    plain = catalog.price("plain-4o")
    assert plain is not None and plain.cached_input_rate == 1.25
    assert catalog.price("local") is None
    assert catalog.unpriced() == ["local"]  # explicitly free is priced, at zero
    assert catalog.price("nobody") is None


def test_cost_prices_cached_and_written_prompt_tokens_at_their_own_rates() -> None:
    price = Price(input=3.0, output=15.0, cached_input=0.30, cache_write=3.75)
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=100_000, cached_tokens=600_000,
                  cache_write_tokens=300_000)
    # 100k fresh x 3 + 600k cached x 0.30 + 300k written x 3.75 + 100k out x 15, per 1M
    assert cost_of(usage, price) == pytest.approx(0.3 + 0.18 + 1.125 + 1.5)
    assert cost_of(Usage(prompt_tokens=1000, completion_tokens=500), price) == \
        pytest.approx((1000 * 3.0 + 500 * 15.0) / 1e6)
    # Inconsistent provider figures never produce negative fresh tokens.
    odd = Usage(prompt_tokens=10, cached_tokens=50)
    assert cost_of(odd, price) == pytest.approx(10 * 0.30 / 1e6)


def test_cached_tokens_without_a_discount_cost_the_input_price() -> None:
    price = Price(input=2.0, output=8.0)
    assert cost_of(Usage(prompt_tokens=100, cached_tokens=100), price) == \
        cost_of(Usage(prompt_tokens=100), price)


def test_format_usd() -> None:
    assert format_usd(0.0) == "0"
    assert format_usd(0.00001275) == "0.00001275"
    assert format_usd(12.5) == "12.5"
    assert format_usd(1e-12) == "0"


def _exchange(body: dict[str, Any], deployment: Deployment | None, *,
              usage: Usage | None = None, output_chars: int = 0) -> Exchange:
    caller = Caller(key_id="key_1", name="k", models=None)
    exchange = Exchange(ChatRequest(model="m", body=body, request_id="req_1", caller=caller),
                        "chat")
    exchange.deployment = deployment
    exchange.usage = usage
    exchange.output_chars = output_chars
    return exchange


def _deployment(config: DeploymentConfig) -> Deployment:
    return Deployment(config, provider=None, breaker=LocalBreaker(config.breaker))  # type: ignore[arg-type]


BODY = {"model": "m", "messages": [{"role": "user", "content": "x" * 400}]}


def test_meter_uses_provider_usage_and_sets_the_headers() -> None:
    config = dep("d", "gpt-4o-mini")
    meter = Meter(PriceCatalog([config]), MeteringMetrics(CollectorRegistry()))
    exchange = _exchange(BODY, _deployment(config),
                         usage=Usage(prompt_tokens=1000, completion_tokens=100))
    meter(exchange)
    assert exchange.usage_source == "provider"
    assert exchange.cost == pytest.approx((1000 * 0.15 + 100 * 0.60) / 1e6)
    assert exchange.response_headers[USAGE_SOURCE_HEADER] == "provider"
    assert exchange.response_headers[COST_HEADER] == "0.00021"


def test_meter_estimates_when_the_provider_reports_nothing() -> None:
    config = dep("d", "gpt-4o-mini")
    registry = CollectorRegistry()
    meter = Meter(PriceCatalog([config]), MeteringMetrics(registry))
    exchange = _exchange(BODY, _deployment(config), output_chars=81)
    meter(exchange)
    assert exchange.usage_source == "estimated"
    assert exchange.usage == Usage(prompt_tokens=estimate_prompt_tokens(BODY),
                                   completion_tokens=21)
    assert exchange.cost is not None and exchange.cost > 0
    assert registry.get_sample_value("pavedroad_estimated_usage_requests_total",
                                     {"deployment": "d"}) == 1


def test_meter_flags_unpriced_deployments_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    config = dep("local", "llama3.2")
    registry = CollectorRegistry()
    meter = Meter(PriceCatalog([config]), MeteringMetrics(registry))
    for _ in range(3):
        exchange = _exchange(BODY, _deployment(config), usage=Usage(prompt_tokens=5))
        meter(exchange)
        assert exchange.cost is None  # unknown, never 0
        assert COST_HEADER not in exchange.response_headers
    assert registry.get_sample_value("pavedroad_unpriced_requests_total",
                                     {"deployment": "local"}) == 3
    warnings = [r for r in caplog.records if "has no price" in r.getMessage()]
    assert len(warnings) == 1


def test_meter_cache_hits_and_failures_cost_nothing() -> None:
    config = dep("d", "gpt-4o")
    meter = Meter(PriceCatalog([config]), MeteringMetrics(CollectorRegistry()))
    hit = _exchange(BODY, _deployment(config), usage=Usage(prompt_tokens=1000))
    hit.cache_hit = True
    meter(hit)
    assert hit.cost == 0.0 and hit.response_headers[COST_HEADER] == "0"
    failed = _exchange(BODY, None)
    meter(failed)
    assert failed.cost == 0.0 and failed.usage_source == "none"


def test_worst_case_uses_max_tokens_the_dearest_deployment_and_the_unpriced_reserve() -> None:
    catalog = PriceCatalog([dep("mini", "gpt-4o-mini"), dep("big", "gpt-4o"),
                            dep("local", "llama3.2")], unpriced_reserve_usd=0.5)
    prompt = estimate_prompt_tokens(BODY)
    body = {**BODY, "max_tokens": 1000}
    assert worst_case_cost(body, ["mini", "big"], catalog, default_max_tokens=4096) == \
        pytest.approx((prompt * 2.50 + 1000 * 10.0) / 1e6)
    no_limit = worst_case_cost(BODY, ["mini"], catalog, default_max_tokens=4096)
    assert no_limit == pytest.approx((prompt * 0.15 + 4096 * 0.60) / 1e6)
    both = {**BODY, "max_completion_tokens": 10, "max_tokens": 1000, "n": 3}
    assert worst_case_cost(both, ["mini"], catalog, default_max_tokens=4096) == \
        pytest.approx((prompt * 0.15 + 30 * 0.60) / 1e6)
    assert worst_case_cost(BODY, ["mini", "local"], catalog, default_max_tokens=4096) == 0.5


def test_worst_case_prices_prompts_at_the_cache_write_rate_when_dearer() -> None:
    catalog = PriceCatalog([dep("sonnet", "claude-sonnet-4-20250514")])
    prompt = estimate_prompt_tokens(BODY)
    assert worst_case_cost({**BODY, "max_tokens": 1}, ["sonnet"], catalog,
                           default_max_tokens=1) == pytest.approx((prompt * 3.75 + 15.0) / 1e6)


def test_route_deployments_lists_every_reachable_deployment_once() -> None:
    model = ModelConfig.model_validate({"name": "m", "route": {"conditional": {
        "rules": [{"when": {"team": "x"}, "then": {"fallback": ["a", "b"]}}],
        "default": {"weighted": [{"target": "b"}, {"target": "c"}]}}}})
    assert route_deployments(model) == ["a", "b", "c"]
