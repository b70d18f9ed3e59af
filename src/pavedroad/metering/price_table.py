"""The shipped price defaults: USD per million tokens for well-known upstream model ids.

Keys are model ids without a date suffix; `prices.py` matches dated ids
(`gpt-4o-2024-08-06`, `claude-sonnet-4-20250514`) by the longest key that is a prefix
ending at a `-`. A value is `(input, output, cached_input, cache_write)`; None means the
provider has no such price (the input price applies). Prices change: a deployment's
`pricing` in the config overrides these, and an id missing here is *unpriced*, never free.
Figures are the providers' published list prices for standard (not batch) requests;
Anthropic cache writes are its 5-minute cache (1.25 x input).
"""

from __future__ import annotations

PriceRow = tuple[float, float, float | None, float | None]

DEFAULT_PRICES: dict[str, PriceRow] = {
    # OpenAI: cache writes are free; cached input is discounted.
    "gpt-5": (1.25, 10.00, 0.125, None),
    "gpt-5-mini": (0.25, 2.00, 0.025, None),
    "gpt-5-nano": (0.05, 0.40, 0.005, None),
    "gpt-4.1": (2.00, 8.00, 0.50, None),
    "gpt-4.1-mini": (0.40, 1.60, 0.10, None),
    "gpt-4.1-nano": (0.10, 0.40, 0.025, None),
    "gpt-4o": (2.50, 10.00, 1.25, None),
    "gpt-4o-2024-05-13": (5.00, 15.00, None, None),
    "gpt-4o-mini": (0.15, 0.60, 0.075, None),
    "gpt-4-turbo": (10.00, 30.00, None, None),
    "gpt-4": (30.00, 60.00, None, None),
    "gpt-3.5-turbo": (0.50, 1.50, None, None),
    "o1": (15.00, 60.00, 7.50, None),
    "o1-mini": (1.10, 4.40, 0.55, None),
    "o1-pro": (150.00, 600.00, None, None),
    "o3": (2.00, 8.00, 0.50, None),
    "o3-mini": (1.10, 4.40, 0.55, None),
    "o3-pro": (20.00, 80.00, None, None),
    "o4-mini": (1.10, 4.40, 0.275, None),
    # Anthropic: cache reads are 0.1 x input, cache writes 1.25 x input.
    "claude-3-haiku": (0.25, 1.25, 0.03, 0.30),
    "claude-3-5-haiku": (0.80, 4.00, 0.08, 1.00),
    "claude-haiku-4-5": (1.00, 5.00, 0.10, 1.25),
    "claude-3-5-sonnet": (3.00, 15.00, 0.30, 3.75),
    "claude-3-7-sonnet": (3.00, 15.00, 0.30, 3.75),
    "claude-sonnet-4": (3.00, 15.00, 0.30, 3.75),
    "claude-sonnet-4-5": (3.00, 15.00, 0.30, 3.75),
    "claude-3-opus": (15.00, 75.00, 1.50, 18.75),
    "claude-opus-4": (15.00, 75.00, 1.50, 18.75),
    "claude-opus-4-1": (15.00, 75.00, 1.50, 18.75),
    "claude-opus-4-5": (5.00, 25.00, 0.50, 6.25),
}
