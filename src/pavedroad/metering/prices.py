"""The price catalog: what one million tokens cost on each deployment.

A deployment's price is its `pricing` from the config, else the shipped default for its
upstream model id (`price_table.py`), else none: the deployment is *unpriced* and its
requests get no cost (None), are counted by a metric and logged once — never priced at 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pavedroad.config.models import DeploymentConfig, PricingConfig
from pavedroad.metering.price_table import DEFAULT_PRICES, PriceRow

PER_TOKENS = 1_000_000


@dataclass(slots=True, frozen=True)
class Price:
    """USD per million tokens. Cached input and cache writes default to the input price."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    source: str = "config"  # config | catalog:<matched id>

    @property
    def cached_input_rate(self) -> float:
        return self.input if self.cached_input is None else self.cached_input

    @property
    def cache_write_rate(self) -> float:
        return self.input if self.cache_write is None else self.cache_write

    @classmethod
    def from_config(cls, config: PricingConfig) -> Price:
        return cls(config.input, config.output, config.cached_input, config.cache_write)

    @classmethod
    def from_row(cls, row: PriceRow, *, source: str) -> Price:
        return cls(row[0], row[1], row[2], row[3], source=source)


def _candidates(model: str) -> list[str]:
    """The id as given, then without a router prefix (`openai/gpt-4o`) or a cloud
    vendor prefix (`anthropic.claude-3-5-sonnet-20241022-v2:0`)."""
    model = model.strip().lower()
    out = [model]
    tail = model.rsplit("/", 1)[-1]
    if tail != model:
        out.append(tail)
    _, dot, rest = tail.partition("anthropic.")
    if dot and rest:
        out.append(rest)
    return out


def default_price(model: str, table: Mapping[str, PriceRow] = DEFAULT_PRICES) -> Price | None:
    """The shipped price of an upstream model id: exact match, else the longest table id
    that is a prefix of it ending where a `-` follows (`gpt-4o` matches `gpt-4o-2024-08-06`
    but `gpt-4` does not match `gpt-4o`)."""
    for candidate in _candidates(model):
        row = table.get(candidate)
        if row is not None:
            return Price.from_row(row, source=f"catalog:{candidate}")
        best = max((key for key in table
                    if candidate.startswith(key) and candidate[len(key):len(key) + 1] == "-"),
                   key=len, default=None)
        if best is not None:
            return Price.from_row(table[best], source=f"catalog:{best}")
    return None


class PriceCatalog:
    """Prices by deployment name, resolved once at start-up."""

    def __init__(
        self, deployments: Iterable[DeploymentConfig], *, unpriced_reserve_usd: float = 0.0
    ) -> None:
        self._prices: dict[str, Price | None] = {}
        for dep in deployments:
            self._prices[dep.name] = (Price.from_config(dep.pricing) if dep.pricing is not None
                                      else default_price(dep.model))
        self.unpriced_reserve_usd = unpriced_reserve_usd

    def price(self, deployment: str) -> Price | None:
        """None: the deployment is unpriced (or unknown)."""
        return self._prices.get(deployment)

    def unpriced(self) -> list[str]:
        return sorted(name for name, price in self._prices.items() if price is None)

    def as_dict(self) -> dict[str, dict[str, object] | None]:
        return {
            name: None if p is None else {
                "input": p.input, "output": p.output, "cached_input": p.cached_input_rate,
                "cache_write": p.cache_write_rate, "source": p.source}
            for name, p in self._prices.items()
        }
