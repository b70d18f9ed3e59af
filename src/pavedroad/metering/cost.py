"""Cost per request from the provider's usage figures, and the worst case before a call.

`Meter` is the service's `meter` hook: it runs once when an exchange ends, before the
stages' finalizers (so budget settlement sees the cost) and before the observers (so the
ledger records it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pavedroad.config.models import ModelConfig
from pavedroad.config.references import route_targets
from pavedroad.core.types import Usage
from pavedroad.metering.metrics import MeteringMetrics
from pavedroad.metering.prices import PER_TOKENS, Price, PriceCatalog
from pavedroad.metering.tokens import estimate_prompt_tokens, tokens_for_chars
from pavedroad.service.pipeline import Exchange

log = logging.getLogger("pavedroad.metering")

COST_HEADER = "x-pavedroad-cost-usd"
USAGE_SOURCE_HEADER = "x-pavedroad-usage-source"


def format_usd(cost: float) -> str:
    """Plain decimal, to the nano-dollar, without trailing zeros (`0.00001275`)."""
    text = f"{cost:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def cost_of(usage: Usage, price: Price) -> float:
    """USD for `usage` at `price`. Prompt tokens include cached and cache-written ones,
    which are billed at their own rates; the rest at the input rate."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    fresh = usage.prompt_tokens - cached - written
    scaled = (fresh * price.input + cached * price.cached_input_rate
             + written * price.cache_write_rate + usage.completion_tokens * price.output)
    return scaled / PER_TOKENS


def estimate_usage(exchange: Exchange) -> Usage:
    """Tokens from the request's messages and the answer text seen (tokens.py)."""
    return Usage(prompt_tokens=estimate_prompt_tokens(exchange.request.body),
                 completion_tokens=tokens_for_chars(exchange.output_chars))


class Meter:
    """Settles an ended exchange's usage, usage source and cost."""

    def __init__(self, catalog: PriceCatalog, metrics: MeteringMetrics) -> None:
        self.catalog = catalog
        self._metrics = metrics
        self._warned: set[str] = set()

    def __call__(self, exchange: Exchange) -> None:
        self._settle(exchange)
        # Seen on complete responses, which are metered before they are sent; a stream's
        # headers are gone by the time it ends (its cost is in the ledger).
        headers = exchange.response_headers
        headers[USAGE_SOURCE_HEADER] = exchange.usage_source
        if exchange.cost is not None:
            headers[COST_HEADER] = format_usd(exchange.cost)

    def _settle(self, exchange: Exchange) -> None:
        if exchange.cache_hit:  # served from our cache: no upstream billed anything
            exchange.cost = 0.0
            exchange.usage_source = "provider" if exchange.usage is not None else "none"
            return
        deployment = exchange.deployment
        if deployment is None:  # no upstream answered: nothing was billed
            exchange.cost = 0.0
            exchange.usage_source = "none"
            return
        if exchange.usage is None:
            exchange.usage = estimate_usage(exchange)
            exchange.usage_source = "estimated"
            self._metrics.estimated.labels(deployment.name).inc()
        else:
            exchange.usage_source = "provider"
        price = self.catalog.price(deployment.name)
        if price is None:
            exchange.cost = None
            self._unpriced(deployment.name, deployment.config.model)
            return
        exchange.cost = cost_of(exchange.usage, price)
        self._metrics.cost.labels(exchange.request.model, deployment.name).inc(exchange.cost)

    def _unpriced(self, name: str, model: str) -> None:
        self._metrics.unpriced.labels(name).inc()
        if name not in self._warned:
            self._warned.add(name)
            log.warning("deployment %r (upstream model %r) has no price: its requests are "
                        "recorded with an unknown cost; set deployments[].pricing", name, model)


def route_deployments(model: ModelConfig) -> list[str]:
    """Every deployment a model's route can reach, whatever the request."""
    route: Any = model.route if isinstance(model.route, str) else model.route.model_dump()
    return list(dict.fromkeys(route_targets(route)))


def worst_case_cost(
    request_body: Mapping[str, Any],
    model_route_deployments: Iterable[str],
    catalog: PriceCatalog,
    *,
    default_max_tokens: int,
) -> float:
    """The most a request can cost, in USD, for reserving budget before routing.

    Prompt tokens are estimated (priced at the dearer of input and cache-write rates);
    completion tokens are `max_completion_tokens` or `max_tokens` (times `n`), else
    `default_max_tokens` (`metering.reserve_max_tokens`); the price is the highest among
    the deployments the route can reach. An unpriced deployment counts as
    `metering.unpriced_reserve_usd`.
    """
    prompt = estimate_prompt_tokens(request_body)
    limit = request_body.get("max_completion_tokens") or request_body.get("max_tokens")
    completion = limit if isinstance(limit, int) and limit > 0 else default_max_tokens
    choices = request_body.get("n")
    if isinstance(choices, int) and choices > 1:
        completion *= choices
    worst = 0.0
    for name in model_route_deployments:
        price = catalog.price(name)
        if price is None:
            cost = catalog.unpriced_reserve_usd
        else:
            cost = (prompt * max(price.input, price.cache_write_rate)
                    + completion * price.output) / PER_TOKENS
        worst = max(worst, cost)
    return worst
