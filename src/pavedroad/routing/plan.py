"""Walk a routing tree into the ordered list of deployments to try for one request.

Every node kind reduces to an order: fallback keeps its order, weighted draws one by
weight and keeps the rest (also drawn by weight) as fallbacks, least-latency sorts by
the recent estimate, conditional picks a branch. Executing that list is the router's job.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from pavedroad.config.routes import (
    Condition,
    ConditionalNode,
    DeploymentNode,
    FallbackNode,
    LeastLatencyNode,
    RouteNode,
    WeightedNode,
)
from pavedroad.core.types import Caller

LatencyOf = Callable[[str], float]


def matches(condition: Condition, *, headers: Mapping[str, str], caller: Caller) -> bool:
    if condition.header is not None:
        value = headers.get(condition.header.lower())
        if value is None:
            return False
        if condition.equals is not None and value != condition.equals:
            return False
        if condition.one_of is not None and value not in condition.one_of:
            return False
    if condition.team is not None and caller.team != condition.team:
        return False
    return condition.key_name is None or caller.name == condition.key_name


def _weighted_order(items: list[tuple[float, RouteNode]], rng: random.Random) -> list[RouteNode]:
    pool = list(items)
    order: list[RouteNode] = []
    while pool:
        total = sum(w for w, _ in pool)
        pick = rng.uniform(0, total)
        for i, (weight, node) in enumerate(pool):
            pick -= weight
            if pick <= 0 or i == len(pool) - 1:
                order.append(node)
                pool.pop(i)
                break
    return order


def plan(
    node: RouteNode,
    *,
    headers: Mapping[str, str],
    caller: Caller,
    latency_of: LatencyOf,
    rng: random.Random,
) -> list[str]:
    """Deployment names in the order they should be tried, without repeats."""
    out: list[str] = []

    def walk(n: RouteNode) -> None:
        if isinstance(n, str):
            out.append(n)
        elif isinstance(n, DeploymentNode):
            out.append(n.deployment)
        elif isinstance(n, FallbackNode):
            for child in n.fallback:
                walk(child)
        elif isinstance(n, WeightedNode):
            for child in _weighted_order([(t.weight, t.target) for t in n.weighted], rng):
                walk(child)
        elif isinstance(n, LeastLatencyNode):
            ranked = sorted(n.least_latency, key=lambda c: latency_of(_first(c)))
            for child in ranked:
                walk(child)
        elif isinstance(n, ConditionalNode):
            for rule in n.conditional.rules:
                if matches(rule.when, headers=headers, caller=caller):
                    walk(rule.then)
                    return
            if n.conditional.default is not None:
                walk(n.conditional.default)

    walk(node)
    return list(dict.fromkeys(out))


def _first(node: RouteNode) -> str:
    """The deployment a subtree would try first, for ranking subtrees by latency."""
    if isinstance(node, str):
        return node
    if isinstance(node, DeploymentNode):
        return node.deployment
    if isinstance(node, FallbackNode):
        return _first(node.fallback[0])
    if isinstance(node, WeightedNode):
        return _first(node.weighted[0].target)
    if isinstance(node, LeastLatencyNode):
        return _first(node.least_latency[0])
    first_rule = node.conditional.rules[0].then
    return _first(first_rule)
