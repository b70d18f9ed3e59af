"""Retries, Retry-After, timeouts and the circuit breaker, against the real simulator.

Timings are kept small (tenths of a second) but every timing assertion has a margin
of its own size, so the tests stay stable on a busy machine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import MASTER_KEY, RunningGateway, Sim

pytestmark = pytest.mark.timeout(30)

GatewayFactory = Callable[..., RunningGateway]
PING = [{"role": "user", "content": "ping"}]
FAST_RETRIES = {"attempts": 0}


def deployment(sim: Sim, name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "provider": "openai_compatible", "model": f"up-{name}",
            "api_base": f"{sim.url}/v1", "retries": FAST_RETRIES, **extra}


def config(deployments: list[dict[str, Any]], route: Any) -> str:
    return json.dumps({"store": {"url": "{db}"}, "deployments": deployments,
                       "models": [{"name": "m", "route": route}]})


def client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY, max_retries=0)


def route_of(oa: openai.OpenAI, **kwargs: Any) -> str:
    raw = oa.chat.completions.with_raw_response.create(model="m", messages=PING, **kwargs)
    raw.parse()
    return raw.headers["x-pavedroad-route"]


def calls(sim: Sim, model: str) -> int:
    count: int = sim.stats()["by_model"].get(model, 0)
    return count


def metric(gw: RunningGateway, name: str, **labels: str) -> float | None:
    with gw.client() as http:
        text = http.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def breaker_of(gw: RunningGateway, name: str) -> str:
    with gw.client() as http:
        response = http.get("/admin/deployments")
    response.raise_for_status()
    (entry,) = [d for d in response.json()["data"] if d["name"] == name]
    state: str = entry["breaker"]
    return state


# --- retries ---------------------------------------------------------------------------


def test_retries_repeat_the_same_deployment_with_backoff(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    retries = {"attempts": 2, "backoff_initial": 0.1, "backoff_max": 1.0}
    gw = gateway_factory(config([deployment(sim, "a", retries=retries), deployment(sim, "b")],
                                {"fallback": ["a", "b"]}))
    sim.fault("up-a", status=503)
    started = time.perf_counter()
    route = route_of(client(gw))
    elapsed = time.perf_counter() - started
    assert route == ("a:upstream_overloaded, a:upstream_overloaded, a:upstream_overloaded, "
                     "b:ok")
    assert calls(sim, "up-a") == 3
    # Jittered exponential backoff: at least half of 0.1 s, then half of 0.2 s.
    assert elapsed >= 0.15


def test_a_retry_can_recover_on_the_same_deployment(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    retries = {"attempts": 1, "backoff_initial": 0.01}
    gw = gateway_factory(config([deployment(sim, "a", retries=retries), deployment(sim, "b")],
                                {"fallback": ["a", "b"]}))
    sim.fault("up-a", status=500, times=1)
    assert route_of(client(gw)) == "a:upstream_error, a:ok"
    assert calls(sim, "up-b") == 0


def test_retry_after_is_honoured_before_retrying(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    # Backoff alone would wait ~1 ms; only Retry-After explains a 0.3 s pause.
    retries = {"attempts": 1, "backoff_initial": 0.001, "max_retry_after": 2}
    gw = gateway_factory(config([deployment(sim, "a", retries=retries), deployment(sim, "b")],
                                {"fallback": ["a", "b"]}))
    sim.fault("up-a", status=429, retry_after=0.3, times=1)
    started = time.perf_counter()
    route = route_of(client(gw))
    elapsed = time.perf_counter() - started
    assert route == "a:upstream_rate_limited, a:ok"
    assert elapsed >= 0.3
    assert calls(sim, "up-b") == 0


def test_retry_after_above_the_limit_moves_on_at_once(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    retries = {"attempts": 3, "backoff_initial": 0.001, "max_retry_after": 1}
    gw = gateway_factory(config([deployment(sim, "a", retries=retries), deployment(sim, "b")],
                                {"fallback": ["a", "b"]}))
    sim.fault("up-a", status=429, retry_after=5)
    started = time.perf_counter()
    route = route_of(client(gw))
    elapsed = time.perf_counter() - started
    assert route == "a:upstream_rate_limited, b:ok"
    assert elapsed < 1.0
    assert calls(sim, "up-a") == 1  # no retry of a: waiting 5 s is not worth it


@pytest.mark.parametrize(("retry_after", "expected"), [(5, "5"), (None, "1")])
def test_all_rate_limited_gives_429_with_retry_after(
    sim: Sim, gateway_factory: GatewayFactory, retry_after: float | None, expected: str
) -> None:
    retries = {"attempts": 0, "max_retry_after": 1}
    gw = gateway_factory(config(
        [deployment(sim, "a", retries=retries), deployment(sim, "b", retries=retries)],
        {"fallback": ["a", "b"]}))
    fault: dict[str, Any] = {"status": 429}
    if retry_after is not None:
        fault["retry_after"] = retry_after
    sim.fault("up-a", **fault)
    sim.fault("up-b", **fault)
    with pytest.raises(openai.RateLimitError) as info:
        route_of(client(gw))
    error = info.value
    assert error.status_code == 429
    assert error.code == "upstream_rate_limited"
    assert error.response.headers["retry-after"] == expected
    assert error.response.headers["x-pavedroad-route"] == (
        "a:upstream_rate_limited, b:upstream_rate_limited")


# --- timeouts ----------------------------------------------------------------------------


def test_first_token_timeout_on_a_stream_falls_back_before_sending_anything(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config(
        [deployment(sim, "a", timeouts={"first_token": 0.3}), deployment(sim, "b")],
        {"fallback": ["a", "b"]}))
    sim.fault("up-a", first_token_ms=3000)
    started = time.perf_counter()
    raw = client(gw).chat.completions.with_raw_response.create(
        model="m", messages=PING, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    elapsed = time.perf_counter() - started
    assert raw.headers["x-pavedroad-route"] == "a:upstream_timeout, b:ok"
    # Nothing of a's reply reached the client: the text is b's alone.
    assert text == "Simulated reply from up-b: ping"
    assert elapsed < 2.0


def test_first_token_timeout_covers_only_the_first_chunk(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config([deployment(sim, "a", timeouts={"first_token": 0.3})], "a"))
    sim.fault("up-a", chunk_delay_ms=80)  # ~8 frames: the whole stream takes > 0.3 s
    started = time.perf_counter()
    chunks = list(client(gw).chat.completions.create(model="m", messages=PING, stream=True))
    elapsed = time.perf_counter() - started
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Simulated reply from up-a: ping"
    assert elapsed > 0.3


def test_total_timeout_without_fallback_is_504(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config([deployment(sim, "a", timeouts={"total": 0.3})], "a"))
    sim.fault("up-a", latency_ms=3000)
    started = time.perf_counter()
    with pytest.raises(openai.APIStatusError) as info:
        route_of(client(gw))
    elapsed = time.perf_counter() - started
    assert info.value.status_code == 504
    assert info.value.code == "upstream_timeout"
    assert info.value.response.headers["x-pavedroad-route"] == "a:upstream_timeout"
    assert elapsed < 2.0


def test_total_timeout_with_fallback_is_served_by_the_next(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config(
        [deployment(sim, "a", timeouts={"total": 0.3}), deployment(sim, "b")],
        {"fallback": ["a", "b"]}))
    sim.fault("up-a", latency_ms=3000)
    assert route_of(client(gw)) == "a:upstream_timeout, b:ok"


# --- circuit breaker ---------------------------------------------------------------------


def test_breaker_opens_skips_then_half_open_probe_closes_it(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    breaker = {"consecutive_failures": 2, "cooldown_seconds": 0.6}
    gw = gateway_factory(config([deployment(sim, "a", breaker=breaker), deployment(sim, "b")],
                                {"fallback": ["a", "b"]}))
    oa = client(gw)
    assert metric(gw, "pavedroad_breaker_state", deployment="a") == 0.0
    sim.fault("up-a", status=503, times=2)

    assert route_of(oa) == "a:upstream_overloaded, b:ok"
    assert breaker_of(gw, "a") == "closed"
    assert route_of(oa) == "a:upstream_overloaded, b:ok"
    opened = time.monotonic()

    # Open: a is skipped without a call, and both views say so.
    assert breaker_of(gw, "a") == "open"
    with gw.client() as http:
        assert 'pavedroad_breaker_state{deployment="a"} 2.0' in http.get("/metrics").text
    assert route_of(oa) == "a:circuit_open, b:ok"
    assert route_of(oa) == "a:circuit_open, b:ok"
    assert time.monotonic() - opened < 0.6, "too slow to observe the open state"
    assert calls(sim, "up-a") == 2

    # After the cool-down one probe goes through; its success closes the breaker.
    time.sleep(0.7)
    assert breaker_of(gw, "a") == "half_open"
    assert route_of(oa) == "a:ok"
    assert calls(sim, "up-a") == 3
    assert breaker_of(gw, "a") == "closed"
    assert metric(gw, "pavedroad_breaker_state", deployment="a") == 0.0
    assert route_of(oa) == "a:ok"


def test_failed_half_open_probe_reopens_the_breaker(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    breaker = {"consecutive_failures": 1, "cooldown_seconds": 0.3}
    gw = gateway_factory(config([deployment(sim, "a", breaker=breaker), deployment(sim, "b")],
                                {"fallback": ["a", "b"]}))
    oa = client(gw)
    sim.fault("up-a", status=503)
    assert route_of(oa) == "a:upstream_overloaded, b:ok"
    assert route_of(oa) == "a:circuit_open, b:ok"
    time.sleep(0.4)
    assert route_of(oa) == "a:upstream_overloaded, b:ok"  # the probe, failing
    assert route_of(oa) == "a:circuit_open, b:ok"  # open again, a fresh cool-down
    assert breaker_of(gw, "a") == "open"
    assert calls(sim, "up-a") == 2


def test_breaker_opens_on_error_rate(sim: Sim, gateway_factory: GatewayFactory) -> None:
    breaker = {"consecutive_failures": 100, "error_rate": 0.5, "min_requests": 4,
               "cooldown_seconds": 30}
    gw = gateway_factory(config([deployment(sim, "a", breaker=breaker), deployment(sim, "b")],
                                {"fallback": ["a", "b"]}))
    oa = client(gw)
    routes = []
    for fail in (False, True, False, True):  # never two failures in a row
        if fail:
            sim.fault("up-a", status=500, times=1)
        routes.append(route_of(oa))
    assert routes == ["a:ok", "a:upstream_error, b:ok", "a:ok", "a:upstream_error, b:ok"]
    assert route_of(oa) == "a:circuit_open, b:ok"


def test_all_circuits_open_gives_503_circuit_open(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config(
        [deployment(sim, "a", breaker={"consecutive_failures": 1, "cooldown_seconds": 30})],
        "a"))
    sim.fault("up-a", status=503)
    oa = client(gw)
    with pytest.raises(openai.APIStatusError) as first:
        route_of(oa)
    assert first.value.code == "upstream_overloaded"
    with pytest.raises(openai.APIStatusError) as second:
        route_of(oa)
    assert second.value.status_code == 503
    assert second.value.code == "circuit_open"
    assert second.value.response.headers["x-pavedroad-route"] == "a:circuit_open"
    assert calls(sim, "up-a") == 1


def test_caller_errors_do_not_trip_the_breaker(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config(
        [deployment(sim, "a", breaker={"consecutive_failures": 1, "cooldown_seconds": 30})],
        "a"))
    sim.fault("up-a", status=400, times=3)
    oa = client(gw)
    for _ in range(3):
        with pytest.raises(openai.BadRequestError):
            route_of(oa)
    assert breaker_of(gw, "a") == "closed"
    assert route_of(oa) == "a:ok"
    assert calls(sim, "up-a") == 4


def test_disabled_breaker_never_opens(sim: Sim, gateway_factory: GatewayFactory) -> None:
    breaker = {"enabled": False, "consecutive_failures": 1}
    gw = gateway_factory(config([deployment(sim, "a", breaker=breaker), deployment(sim, "b")],
                                {"fallback": ["a", "b"]}))
    sim.fault("up-a", status=503)
    oa = client(gw)
    routes = {route_of(oa) for _ in range(4)}
    assert routes == {"a:upstream_overloaded, b:ok"}
    assert calls(sim, "up-a") == 4
    assert breaker_of(gw, "a") == "closed"


def test_breaker_is_on_by_default(sim: Sim, gateway_factory: GatewayFactory) -> None:
    # No `breaker` section at all: the default threshold is 5 consecutive failures.
    gw = gateway_factory(config([deployment(sim, "a"), deployment(sim, "b")],
                                {"fallback": ["a", "b"]}))
    sim.fault("up-a", status=503)
    oa = client(gw)
    routes = [route_of(oa) for _ in range(6)]
    assert routes[:5] == ["a:upstream_overloaded, b:ok"] * 5
    assert routes[5] == "a:circuit_open, b:ok"
    assert calls(sim, "up-a") == 5
