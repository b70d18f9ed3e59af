"""Routing through real sockets: single, fallback, weighted, least-latency, conditional.

Every deployment gets an upstream model name of its own (`up-<name>`), so the
simulator's per-model counters say exactly which deployment was called and how often.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.support.servers import MASTER_KEY, RunningGateway, Sim, free_port

pytestmark = pytest.mark.timeout(30)

GatewayFactory = Callable[..., RunningGateway]
PING = [{"role": "user", "content": "ping"}]


def deployment(sim: Sim, name: str, **extra: Any) -> dict[str, Any]:
    """An OpenAI-compatible deployment on the simulator; no retries unless asked."""
    return {"name": name, "provider": "openai_compatible", "model": f"up-{name}",
            "api_base": f"{sim.url}/v1", "retries": {"attempts": 0}, **extra}


def config(deployments: list[dict[str, Any]], models: dict[str, Any]) -> str:
    # JSON is YAML, and building a dict keeps the route trees readable.
    return json.dumps({
        "store": {"url": "{db}"},
        "deployments": deployments,
        "models": [{"name": name, "route": route} for name, route in models.items()],
    })


def client(gw: RunningGateway, key: str = MASTER_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)


def ask(oa: openai.OpenAI, model: str = "m", **kwargs: Any) -> tuple[str, str]:
    """(reply text, x-pavedroad-route) of one non-streaming chat call."""
    raw = oa.chat.completions.with_raw_response.create(model=model, messages=PING, **kwargs)
    text = raw.parse().choices[0].message.content or ""
    return text, raw.headers["x-pavedroad-route"]


def by_model(sim: Sim) -> dict[str, int]:
    counts: dict[str, int] = sim.stats()["by_model"]
    return counts


# --- single and fallback ---------------------------------------------------------------


def test_single_deployment_serves_and_is_named_in_route(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config([deployment(sim, "solo")], {"m": "solo"}))
    text, route = ask(client(gw))
    assert text == "Simulated reply from up-solo: ping"
    assert route == "solo:ok"
    assert by_model(sim) == {"up-solo": 1}


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"status": 503}, "upstream_overloaded"),
        ({"status": 500}, "upstream_error"),
        ({"status": 529}, "upstream_overloaded"),
        ({"latency_ms": 1500}, "upstream_timeout"),
    ],
    ids=["503", "500", "529", "timeout"],
)
def test_fallback_tries_each_target_in_order(
    sim: Sim, gateway_factory: GatewayFactory, fault: dict[str, Any], code: str
) -> None:
    timeouts = {"total": 0.3}
    gw = gateway_factory(config(
        [deployment(sim, "a", timeouts=timeouts), deployment(sim, "b", timeouts=timeouts),
         deployment(sim, "c")],
        {"m": {"fallback": ["a", "b", "c"]}},
    ))
    sim.fault("up-a", **fault)
    sim.fault("up-b", **fault)
    text, route = ask(client(gw))
    assert text == "Simulated reply from up-c: ping"
    assert route == f"a:{code}, b:{code}, c:ok"
    assert by_model(sim) == {"up-a": 1, "up-b": 1, "up-c": 1}


def test_fallback_skips_unreachable_deployment(sim: Sim, gateway_factory: GatewayFactory) -> None:
    dead = deployment(sim, "dead", api_base=f"http://127.0.0.1:{free_port()}/v1")
    gw = gateway_factory(config([dead, deployment(sim, "alive")],
                                {"m": {"fallback": ["dead", "alive"]}}))
    text, route = ask(client(gw))
    assert text == "Simulated reply from up-alive: ping"
    assert route == "dead:upstream_unreachable, alive:ok"


def test_fallback_also_applies_to_streams(sim: Sim, gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory(config([deployment(sim, "a"), deployment(sim, "b")],
                                {"m": {"fallback": ["a", "b"]}}))
    sim.fault("up-a", status=503)
    raw = client(gw).chat.completions.with_raw_response.create(
        model="m", messages=PING, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert raw.headers["x-pavedroad-route"] == "a:upstream_overloaded, b:ok"
    assert text == "Simulated reply from up-b: ping"


def test_exhausted_fallback_returns_last_error_with_full_route(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config([deployment(sim, "a"), deployment(sim, "b")],
                                {"m": {"fallback": ["a", "b"]}}))
    sim.fault("up-a", status=503)
    sim.fault("up-b", status=500)
    with pytest.raises(openai.APIStatusError) as info:
        ask(client(gw))
    assert info.value.status_code == 502
    assert info.value.code == "upstream_error"
    assert info.value.response.headers["x-pavedroad-route"] == (
        "a:upstream_overloaded, b:upstream_error")


def test_non_retryable_upstream_400_does_not_fall_back(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config(
        [deployment(sim, "a", retries={"attempts": 2, "backoff_initial": 0.01}),
         deployment(sim, "b")],
        {"m": {"fallback": ["a", "b"]}},
    ))
    sim.fault("up-a", status=400)
    with pytest.raises(openai.BadRequestError) as info:
        ask(client(gw))
    assert info.value.status_code == 400
    assert info.value.code == "upstream_rejected_request"
    assert info.value.response.headers["x-pavedroad-route"] == "a:upstream_rejected_request"
    assert by_model(sim) == {"up-a": 1}  # neither retried nor passed on


# --- weighted ------------------------------------------------------------------------


def test_weighted_split_follows_weights(sim: Sim, gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory(config(
        [deployment(sim, "heavy"), deployment(sim, "light")],
        {"m": {"weighted": [{"target": "heavy", "weight": 3}, {"target": "light", "weight": 1}]}},
    ))
    oa = client(gw)
    routes = {ask(oa)[1] for _ in range(200)}
    counts = by_model(sim)
    assert counts["up-heavy"] + counts["up-light"] == 200
    # Expected 150 / 50; a binomial sd is about 6, so +-25 is beyond 4 sd.
    assert 125 <= counts["up-heavy"] <= 175, counts
    assert routes == {"heavy:ok", "light:ok"}


def test_weighted_falls_back_to_the_other_target(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config(
        [deployment(sim, "x", breaker={"enabled": False}), deployment(sim, "y")],
        {"m": {"weighted": [{"target": "x", "weight": 1}, {"target": "y", "weight": 1}]}},
    ))
    sim.fault("up-x", status=503)
    oa = client(gw)
    routes = [ask(oa)[1] for _ in range(30)]
    assert set(routes) == {"y:ok", "x:upstream_overloaded, y:ok"}
    assert by_model(sim)["up-y"] == 30


# --- least latency -------------------------------------------------------------------


def test_least_latency_prefers_the_fast_deployment_and_adapts(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config([deployment(sim, "slow"), deployment(sim, "fast")],
                                {"m": {"least_latency": ["slow", "fast"]}}))
    sim.fault("up-slow", latency_ms=80)
    oa = client(gw)
    for _ in range(20):
        ask(oa)
    counts = by_model(sim)
    # Unmeasured deployments are explored once; after that the fast one wins.
    assert counts.get("up-slow", 0) <= 2
    assert counts["up-fast"] >= 18

    # The fast one becomes slower than the slow one: traffic must move over.
    sim.fault("up-fast", latency_ms=250)
    served = [ask(oa)[1] for _ in range(6)]
    assert "slow:ok" in served, served


# --- conditional ---------------------------------------------------------------------

CONDITIONAL = {"conditional": {
    "rules": [
        {"when": {"header": "x-tier", "equals": "premium"}, "then": "premium"},
        {"when": {"header": "x-region", "one_of": ["eu", "ch"]}, "then": "eu"},
        {"when": {"team": "research"}, "then": "research"},
        {"when": {"key_name": "batch-job"}, "then": "batch"},
    ],
    "default": "standard",
}}


@pytest.fixture
def conditional_gateway(sim: Sim, gateway_factory: GatewayFactory) -> RunningGateway:
    names = ["premium", "eu", "research", "batch", "standard"]
    return gateway_factory(config([deployment(sim, n) for n in names], {"m": CONDITIONAL}))


HEADER_CASES = [
    ({}, "standard"),
    ({"x-tier": "premium"}, "premium"),
    ({"X-Tier": "premium"}, "premium"),  # header names are case-insensitive
    ({"x-tier": "basic"}, "standard"),
    ({"x-region": "ch"}, "eu"),
    ({"x-region": "us"}, "standard"),
]


def test_conditional_on_header(sim: Sim, conditional_gateway: RunningGateway) -> None:
    oa = client(conditional_gateway)
    for headers, expected in HEADER_CASES:
        text, route = ask(oa, extra_headers=headers)
        assert route == f"{expected}:ok", headers
        assert text == f"Simulated reply from up-{expected}: ping", headers
    assert by_model(sim) == {"up-standard": 3, "up-premium": 2, "up-eu": 1}


def test_conditional_on_team_and_key_name(
    sim: Sim, conditional_gateway: RunningGateway
) -> None:
    gw = conditional_gateway
    research = client(gw, gw.create_key(models=["m"], app=gw.ensure_app("acme/research/bot")))
    sales = client(gw, gw.create_key(models=["m"], app=gw.ensure_app("acme/sales/bot")))
    batch = client(gw, gw.create_key(name="batch-job", models=["m"]))

    assert ask(research)[1] == "research:ok"
    assert ask(sales)[1] == "standard:ok"
    assert ask(batch)[1] == "batch:ok"
    # Rules are ordered: a header rule listed first beats the team rule.
    assert ask(research, extra_headers={"x-tier": "premium"})[1] == "premium:ok"
    assert by_model(sim) == {"up-research": 1, "up-standard": 1, "up-batch": 1,
                             "up-premium": 1}


def test_conditional_without_default_and_no_match_is_no_deployment_available(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    route = {"conditional": {"rules": [{"when": {"team": "research"}, "then": "only"}]}}
    gw = gateway_factory(config([deployment(sim, "only")], {"m": route}))
    with pytest.raises(openai.APIStatusError) as info:
        ask(client(gw))
    # Nothing was switched off, so this must not claim `model_disabled`.
    assert info.value.status_code == 503
    assert info.value.code == "no_deployment_available"
    assert by_model(sim) == {}
