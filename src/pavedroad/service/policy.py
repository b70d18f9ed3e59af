"""The policy stage: decide once per request, then enforce what the decision allows.

It answers the kill switch for the caller's app (and the global switch), builds the policy
input from the caller, the app and the request, puts the decision on the exchange (the
guardrail stages and the audit trail read it there), refuses what the decision forbids,
and hands the router an allow-list of deployments (`exchange.allow`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pavedroad.config.references import route_targets
from pavedroad.core.errors import PolicyDenied, SwitchedOff
from pavedroad.core.types import ChatRequest
from pavedroad.policy.decision import Decision
from pavedroad.policy.engine import EMPTY_INPUT, PolicyEngine
from pavedroad.routing.allow import RouteFilter
from pavedroad.routing.router import Router
from pavedroad.service.pipeline import ChatResult, Exchange, Next
from pavedroad.store.org import AppRecord


@dataclass(frozen=True, slots=True)
class _Reach:
    deployments: list[str]
    upstream_models: list[str]
    regions: list[str]
    providers: frozenset[str]


class ModelReach:
    """What each gateway model's route can reach, computed once per model name."""

    def __init__(self, router: Router) -> None:
        self._router = router
        self._cache: dict[str, _Reach] = {}

    def __call__(self, model: str) -> _Reach:
        reach = self._cache.get(model)
        if reach is None:
            config = self._router.models.get(model)
            route: Any = None if config is None else (
                config.route if isinstance(config.route, str) else config.route.model_dump())
            names = list(dict.fromkeys(route_targets(route))) if route is not None else []
            deps = [self._router.deployments[n] for n in names if n in self._router.deployments]
            reach = _Reach(names, sorted({d.config.model for d in deps}),
                           sorted({d.config.region or "" for d in deps}),
                           frozenset(d.provider_kind for d in deps))
            self._cache[model] = reach
        return reach


def tool_names(body: Mapping[str, Any]) -> list[str]:
    tools = body.get("tools")
    names: list[str] = []
    for tool in tools if isinstance(tools, list) else ():
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str):
            names.append(name)
    return names


def policy_input(request: ChatRequest, endpoint: str, app: AppRecord | None,
                 app_path: str, reach: _Reach) -> dict[str, dict[str, Any]]:
    caller = request.caller
    body = request.body
    response_format = body.get("response_format")
    return {
        "caller": {"key": caller.key_id, "key_name": caller.name,
                   "app": caller.app.id if caller.app else "",
                   "team": caller.team_subject.id if caller.team_subject else "",
                   "tenant": caller.tenant.id if caller.tenant else "",
                   "tags": dict(caller.tags), "admin": caller.is_admin},
        "app": ({"id": app.id, "name": app.name, "path": app_path,
                 "risk_class": app.risk_class, "data_classification": app.data_classification}
                if app is not None else EMPTY_INPUT["app"]),
        "request": {"endpoint": endpoint, "model": request.model, "stream": request.stream,
                    "tools": tool_names(body), "deployments": reach.deployments,
                    "upstream_models": reach.upstream_models, "regions": reach.regions,
                    "response_format": response_format.get("type", "")
                    if isinstance(response_format, dict) else "",
                    "max_tokens": int(body.get("max_tokens") or
                                      body.get("max_completion_tokens") or 0)},
    }


class PolicyStage:
    def __init__(self, engine: PolicyEngine, router: Router, *,
                 app_of: Callable[[str], AppRecord | None],
                 path_of: Callable[[str], str]) -> None:
        self.engine = engine
        self._router = router
        self._reach = ModelReach(router)
        self._app_of = app_of
        self._path_of = path_of

    def decide(self, exchange: Exchange) -> Decision:
        request = exchange.request
        app_id = request.caller.app.id if request.caller.app else None
        app = self._app_of(app_id) if app_id else None
        given = policy_input(request, exchange.endpoint, app,
                             self._path_of(app_id) if app_id else "", self._reach(request.model))
        return self.engine.decide(given)

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        request = exchange.request
        switches = self._router.switches
        app_id = request.caller.app.id if request.caller.app else None
        if switches.app_off(app_id):
            raise SwitchedOff("this app is switched off by an administrator" if not
                              switches.everything else
                              "the gateway is switched off by an administrator")
        decision = self.decide(exchange)
        exchange.policy = decision
        enforce(decision, request)
        if decision.models is not None or decision.regions is not None:
            pinned = exchange.allow.pinned if exchange.allow else ()
            exchange.allow = RouteFilter(decision.models, decision.regions, pinned)
        return await call_next(exchange)

    def providers_of(self, model: str) -> frozenset[str]:
        return self._reach(model).providers


def enforce(decision: Decision, request: ChatRequest) -> None:
    """Refuse what the decision forbids before anything else runs (the router enforces
    models and regions on the deployments themselves)."""
    if not decision.allowed:
        raise PolicyDenied("the policy denies this request: " + "; ".join(decision.reasons),
                           reasons=list(decision.reasons))
    if decision.tiers is not None and request.model not in decision.tiers:
        raise PolicyDenied(f"the policy does not allow model {request.model!r} for this app",
                           param="model")
    if decision.tools is not None:
        denied = [t for t in tool_names(request.body) if t not in decision.tools]
        if denied:
            raise PolicyDenied(f"the policy does not allow tool(s) {', '.join(denied)}",
                               param="tools")
