"""Cross-entry checks (duplicate names, routes to unknown deployments) on the raw file data.

They run on the raw mapping, not the validated model, so `config check` reports them even
when other entries have schema errors: every problem at once, not one round at a time.
"""

from __future__ import annotations

from typing import Any

Loc = tuple[str | int, ...]


def route_targets(node: Any) -> list[str]:
    """Deployment names a raw route node refers to (malformed parts are skipped)."""
    if isinstance(node, str):
        return [node]
    if not isinstance(node, dict) or len(node) != 1:
        return []
    kind, body = next(iter(node.items()))
    if kind == "deployment" and isinstance(body, str):
        return [body]
    if kind in ("fallback", "least_latency") and isinstance(body, list):
        return [name for child in body for name in route_targets(child)]
    if kind == "weighted" and isinstance(body, list):
        return [name for item in body if isinstance(item, dict)
                for name in route_targets(item.get("target"))]
    if kind == "conditional" and isinstance(body, dict):
        rules = body.get("rules")
        rules = rules if isinstance(rules, list) else []
        names = [name for rule in rules if isinstance(rule, dict)
                 for name in route_targets(rule.get("then"))]
        return names + route_targets(body.get("default"))
    return []


def _entries(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    items = data.get(key)
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def reference_problems(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    known: set[str] = set()
    for i, dep in _entries(data, "deployments"):
        name = dep.get("name")
        if isinstance(name, str):
            if name in known:
                problems.append((("deployments", i, "name"), f"deployment {name!r} is defined twice"))
            known.add(name)
    seen: set[str] = set()
    for i, model in _entries(data, "models"):
        name = model.get("name")
        if isinstance(name, str):
            if name in seen:
                problems.append((("models", i, "name"), f"model {name!r} is defined twice"))
            seen.add(name)
        for target in dict.fromkeys(route_targets(model.get("route"))):
            if target not in known:
                listing = ", ".join(sorted(known)) or "none"
                problems.append((("models", i, "route"),
                                 f"routes to unknown deployment {target!r} (known: {listing})"))
    problems += _cache_problems(data)
    return problems


def _cache_problems(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    """`cache.semantic.embedding_model` must name a model of kind `embedding`."""
    cache = data.get("cache")
    semantic = cache.get("semantic") if isinstance(cache, dict) else None
    name = semantic.get("embedding_model") if isinstance(semantic, dict) else None
    if not isinstance(name, str):
        return []
    kinds = {m.get("name"): m.get("kind", "chat") for _, m in _entries(data, "models")}
    if kinds.get(name) == "embedding":
        return []
    embedding = ", ".join(sorted(str(n) for n, k in kinds.items() if k == "embedding")) or "none"
    what = "is not a model" if name not in kinds else f"is a model of kind {kinds[name]!r}"
    return [(("cache", "semantic", "embedding_model"),
             f"{name!r} {what}; name a model of kind `embedding` (known: {embedding})")]
