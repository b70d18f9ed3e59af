"""Deployment limits (`deployments[].limits`): a deployment at its limit is skipped like an
open breaker and routing falls back; with nothing left the caller gets a 429."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.servers import MASTER_KEY, RunningGateway, Sim

pytestmark = pytest.mark.timeout(60)

GatewayFactory = Callable[..., RunningGateway]
HI = [{"role": "user", "content": "hi"}]


def config(sim: Sim, tag: str, limits: dict[str, int], route: Any) -> str:
    def dep(name: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "provider": "openai_compatible", "model": f"up-{tag}-{name}",
                "api_base": f"{sim.url}/v1", "retries": {"attempts": 0}, **extra}

    return json.dumps({"store": {"url": "{db}"},
                       "deployments": [dep("a", limits=limits), dep("b")],
                       "models": [{"name": "m", "route": route}, {"name": "only-a", "route": "a"}]})


def chat(gw: RunningGateway, model: str = "m", **body: Any) -> httpx.Response:
    return httpx.post(f"{gw.url}/v1/chat/completions", timeout=10,
                      headers={"authorization": f"Bearer {MASTER_KEY}"},
                      json={"model": model, "messages": HI, **body})


def test_a_deployment_over_its_rpm_is_skipped_and_the_request_falls_back(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config(sim, "rpm", {"rpm": 2}, {"fallback": ["a", "b"]}))
    routes = [chat(gw).headers["x-pavedroad-route"] for _ in range(3)]
    assert routes == ["a:ok", "a:ok", "a:rate_limited, b:ok"]
    assert sim.stats()["by_model"] == {"up-rpm-a": 2, "up-rpm-b": 1}
    # Deployment limits are the upstream's, not the caller's: no x-ratelimit headers.
    assert "x-ratelimit-limit-requests" not in chat(gw).headers


def test_with_nothing_left_the_caller_gets_a_429_with_retry_after(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config(sim, "only", {"rpm": 1}, {"fallback": ["a", "b"]}))
    assert chat(gw, "only-a").status_code == 200
    refused = chat(gw, "only-a")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.headers["x-pavedroad-route"] == "a:rate_limited"
    assert refused.headers["retry-after"] == "60"


def test_a_stream_holds_its_deployment_slot_until_it_ends(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config(sim, "conc", {"concurrent": 1}, {"fallback": ["a", "b"]}))
    sim.fault("up-conc-a", chunk_delay_ms=100)
    with httpx.Client(base_url=gw.url, timeout=10,
                      headers={"authorization": f"Bearer {MASTER_KEY}"}) as client:
        with client.stream("POST", "/v1/chat/completions",
                           json={"model": "m", "messages": HI, "stream": True}) as held:
            assert held.headers["x-pavedroad-route"] == "a:ok"
            lines = held.iter_lines()  # kept: a dropped iterator closes the connection
            assert next(lines).startswith("data: ")
            assert chat(gw).headers["x-pavedroad-route"] == "a:rate_limited, b:ok"
            assert "data: [DONE]" in list(lines)  # to the end: the slot is given back
        assert chat(gw).headers["x-pavedroad-route"] == "a:ok"


def test_deployment_tokens_per_minute_settle_to_the_actual_usage(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config(sim, "tpm", {"tpm": 100}, {"fallback": ["a", "b"]}))
    # ~30 tokens estimated, ~105 used (the simulator counts each "!"): a ends up in debt.
    big = [{"role": "user", "content": "!" * 100}]
    assert chat(gw, messages=big).headers["x-pavedroad-route"] == "a:ok"
    assert chat(gw).headers["x-pavedroad-route"] == "a:rate_limited, b:ok"


def test_embedding_deployments_are_limited_too(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(json.dumps({
        "store": {"url": "{db}"},
        "deployments": [{"name": "emb", "provider": "openai_compatible", "model": "up-emb",
                         "api_base": f"{sim.url}/v1", "limits": {"rpm": 1}}],
        "models": [{"name": "e", "kind": "embedding", "route": "emb"}]}))

    def embed() -> httpx.Response:
        return httpx.post(f"{gw.url}/v1/embeddings", timeout=10, json={"model": "e", "input": "x"},
                          headers={"authorization": f"Bearer {MASTER_KEY}"})

    assert embed().status_code == 200
    refused = embed()
    assert refused.status_code == 429 and refused.headers["x-pavedroad-route"] == "emb:rate_limited"
