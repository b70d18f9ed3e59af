"""What a cached answer is filed under.

An exact key names the tenant and app (a readable prefix, so a Redis store can list or drop
one tenant's entries), then hashes the model, a fingerprint of its route and the request
body normalised: fields that cannot change the answer are left out, so streamed and
non-streamed asks of the same question share one entry. docs/adr/0009-response-cache.md
lists the fields and why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from pavedroad.config.models import DeploymentConfig, ModelConfig
from pavedroad.config.references import route_targets
from pavedroad.config.routes import (
    ConditionalNode,
    FallbackNode,
    LeastLatencyNode,
    RouteNode,
    WeightedNode,
)
from pavedroad.core.types import Caller
from pavedroad.routing.plan import matches

PREFIX = b"pavedroad:cache:v1:"

# Request fields that cannot change the answer, so they are not part of the key.
IGNORED_FIELDS = frozenset({
    "stream",             # a stored answer is replayed as a stream or as a body
    "stream_options",     # only whether the usage chunk is sent, which replay honours
    "user",               # the end user's id, for the provider's abuse tracking
    "metadata",           # labels for stored completions (Anthropic: the user id)
    "store",              # whether the provider keeps a copy
    "service_tier",       # latency and price, not content
    "safety_identifier",  # the newer spelling of `user`
    "prompt_cache_key",   # a routing hint for the provider's own prompt cache
})
# Sampling parameters where 0 and 0.0 (or 1 and 1.0) must not split the cache.
_NUMBERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")


class NotCacheable(ValueError):
    """The request cannot be keyed (e.g. a number JSON cannot round-trip)."""


@dataclass(slots=True, frozen=True)
class Scope:
    """Who a cache entry belongs to. Entries are never served outside their scope."""

    tenant: str
    app: str

    @classmethod
    def of(cls, caller: Caller) -> Scope:
        if caller.app is None or caller.tenant is None:  # the master key: a scope of its own
            return cls("none", f"key.{caller.key_id}")
        return cls(caller.tenant.id, caller.app.id)

    @property
    def prefix(self) -> bytes:
        return PREFIX + f"{self.tenant}:{self.app}:".encode()


def normalised(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body without the fields that cannot change the answer; equal numbers spelled
    alike; `n: 1` (the default) dropped."""
    kept = {k: v for k, v in body.items() if k not in IGNORED_FIELDS}
    for name in _NUMBERS:
        value = kept.get(name)
        if isinstance(value, float) and value.is_integer():
            kept[name] = int(value)
    if kept.get("n") == 1:
        del kept["n"]
    return kept


def canonical(data: Mapping[str, Any]) -> bytes:
    """JSON with sorted keys at every depth: one spelling per meaning of the body."""
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise NotCacheable(str(exc)) from None


def exact_key(scope: Scope, model: str, route: bytes, body: Mapping[str, Any]) -> bytes:
    digest = hashlib.sha256(model.encode() + b"\0" + route + b"\0" + canonical(normalised(body)))
    return scope.prefix + b"x:" + digest.hexdigest().encode()


class RouteFingerprints:
    """Per model, a digest of its route and of the deployments the route can reach.

    A changed route, upstream model, endpoint or default params changes the digest, so an
    answer from the old configuration is never served for the new one. Conditional nodes
    add the branch this request takes (headers, team and key decide it).
    """

    def __init__(self, models: Mapping[str, ModelConfig],
                 deployments: Mapping[str, DeploymentConfig]) -> None:
        self._static: dict[str, bytes] = {}
        self._conditional: dict[str, RouteNode] = {}
        for name, model in models.items():
            route = model.route if isinstance(model.route, str) else model.route.model_dump(
                mode="json", exclude_none=True)
            reached = {
                target: _deployment_identity(deployments[target])
                for target in sorted(set(route_targets(route))) if target in deployments
            }
            self._static[name] = hashlib.sha256(
                canonical({"route": route, "deployments": reached})).hexdigest().encode()
            if _has_conditional(model.route):
                self._conditional[name] = model.route

    def of(self, model: str, *, headers: Mapping[str, str], caller: Caller) -> bytes:
        static = self._static.get(model, b"")
        node = self._conditional.get(model)
        if node is None:
            return static
        branches: list[int] = []
        _branches(node, headers, caller, branches)
        return static + b"/" + ",".join(map(str, branches)).encode()


def _deployment_identity(config: DeploymentConfig) -> dict[str, Any]:
    return {"provider": config.provider, "model": config.model, "api_base": config.api_base,
            "api_version": config.api_version, "params": config.params}


def _children(node: RouteNode) -> list[RouteNode]:
    if isinstance(node, FallbackNode):
        return list(node.fallback)
    if isinstance(node, WeightedNode):
        return [t.target for t in node.weighted]
    if isinstance(node, LeastLatencyNode):
        return list(node.least_latency)
    if isinstance(node, ConditionalNode):
        body = node.conditional
        return [r.then for r in body.rules] + ([body.default] if body.default else [])
    return []


def _has_conditional(node: RouteNode) -> bool:
    return isinstance(node, ConditionalNode) or any(map(_has_conditional, _children(node)))


def _branches(node: RouteNode, headers: Mapping[str, str], caller: Caller,
              out: list[int]) -> None:
    if not isinstance(node, ConditionalNode):
        for child in _children(node):
            _branches(child, headers, caller, out)
        return
    for i, rule in enumerate(node.conditional.rules):
        if matches(rule.when, headers=headers, caller=caller):
            out.append(i)
            _branches(rule.then, headers, caller, out)
            return
    out.append(-1)
    if node.conditional.default is not None:
        _branches(node.conditional.default, headers, caller, out)


@dataclass(slots=True, frozen=True)
class SemanticQuery:
    """What the semantic cache compares: `text` by meaning, everything else exactly.

    `scope` is tenant, app and model; `context` digests the route and the whole request
    except the last user message's text (system prompt, earlier turns, tools, sampling
    parameters), so a paraphrase matches only in an identical conversation.
    """

    scope: str
    context: bytes
    text: str


def semantic_query(scope: Scope, model: str, route: bytes,
                   body: Mapping[str, Any]) -> SemanticQuery | None:
    """None when the request does not end in a user message of plain text."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        return None
    last = messages[-1]
    text = _plain_text(last.get("content")) if last.get("role") == "user" else None
    if not text:
        return None
    rest = normalised(body)
    rest["messages"] = [*messages[:-1], {**last, "content": None}]
    context = hashlib.sha256(route + b"\0" + canonical(rest)).digest()
    return SemanticQuery(f"{scope.tenant}/{scope.app}/{model}", context, text)


def _plain_text(content: Any) -> str | None:
    """The message's text, whitespace collapsed and case folded; None if it has other parts
    (an image cannot be compared by its text)."""
    if isinstance(content, list):
        if not all(isinstance(p, dict) and p.get("type") == "text"
                   and isinstance(p.get("text"), str) for p in content):
            return None
        content = "\n".join(p["text"] for p in content)
    if not isinstance(content, str):
        return None
    return " ".join(content.split()).casefold() or None
