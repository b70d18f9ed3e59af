"""The routing tree reduces to an ordered list of deployments."""

from __future__ import annotations

import random
from collections import Counter

from pavedroad.config import load_settings
from pavedroad.config.routes import RouteNode
from pavedroad.core.types import Caller
from pavedroad.routing.plan import plan

CALLER = Caller(key_id="k", name="app", models=None, team="research")


def route(yaml_route: str) -> RouteNode:
    deployments = "\n".join(
        f"  - {{name: {n}, provider: openai_compatible, model: m, api_base: 'http://h/v1'}}"
        for n in "abcd")
    text = f"deployments:\n{deployments}\nmodels:\n  - name: x\n    route: {yaml_route}\n"
    return load_settings(text=text, env={}).models[0].route


def order(node: RouteNode, *, headers: dict[str, str] | None = None, caller: Caller = CALLER,
          latency: dict[str, float] | None = None, seed: int = 0) -> list[str]:
    return plan(node, headers=headers or {}, caller=caller, rng=random.Random(seed),
                latency_of=lambda n: (latency or {}).get(n, 0.0))


def test_single_and_fallback_keep_order_without_repeats() -> None:
    assert order(route("a")) == ["a"]
    assert order(route("{fallback: [b, a, b, c]}")) == ["b", "a", "c"]


def test_weighted_draws_by_weight_and_keeps_the_rest_as_fallbacks() -> None:
    node = route("{weighted: [{target: a, weight: 3}, {target: b, weight: 1}]}")
    firsts = Counter(order(node, seed=s)[0] for s in range(4000))
    assert 0.70 < firsts["a"] / 4000 < 0.80
    assert sorted(order(node, seed=1)) == ["a", "b"]


def test_least_latency_prefers_fastest_subtree() -> None:
    node = route("{least_latency: [a, b, {fallback: [c, d]}]}")
    assert order(node, latency={"a": 0.5, "b": 0.2, "c": 0.1}) == ["c", "d", "b", "a"]


def test_conditional_on_header_team_and_default() -> None:
    node = route("{conditional: {rules: [{when: {header: x-tier, one_of: [gold, vip]}, then: a},"
                 " {when: {team: research}, then: b}], default: c}}")
    assert order(node, headers={"x-tier": "vip"}) == ["a"]
    assert order(node, headers={"x-tier": "free"}) == ["b"]
    other = Caller(key_id="k2", name="other", models=None, team="sales")
    assert order(node, caller=other) == ["c"]


def test_conditional_without_match_or_default_plans_nothing() -> None:
    node = route("{conditional: {rules: [{when: {key_name: nobody}, then: a}]}}")
    assert order(node) == []
