"""Streams that break: before the first token they fall back, after it they end in an
error event (never a fake `[DONE]` / `message_stop`), and the broken attempt is recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import MASTER_KEY, RunningGateway, Sim

pytestmark = pytest.mark.timeout(30)

GatewayFactory = Callable[..., RunningGateway]
PING = [{"role": "user", "content": "ping"}]
STREAM_BODY = {"model": "m", "messages": PING, "stream": True}

# (fault, chunks the client gets before the error). The simulator's reply to "ping" is
# a role chunk, 5 word chunks, a finish chunk, the usage chunk and [DONE]; a malformed
# frame is the second one.
MID_STREAM_FAULTS = [
    ({"reset_after_chunks": 3}, 3),
    ({"truncate_after_chunks": 3}, 3),
    ({"malformed_json": True}, 1),
]
MID_STREAM_IDS = ["reset", "truncate", "malformed"]


def deployment(sim: Sim, name: str, *, anthropic_wire: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": name, "provider": "anthropic" if anthropic_wire else "openai_compatible",
            "model": f"up-{name}", "api_base": sim.url if anthropic_wire else f"{sim.url}/v1",
            "retries": {"attempts": 0}, **extra}


def config(deployments: list[dict[str, Any]], route: Any) -> str:
    return json.dumps({"store": {"url": "{db}"}, "deployments": deployments,
                       "models": [{"name": "m", "route": route}]})


def fallback_gateway(sim: Sim, gateway_factory: GatewayFactory, **a_extra: Any) -> RunningGateway:
    return gateway_factory(config([deployment(sim, "a", **a_extra), deployment(sim, "b")],
                                  {"fallback": ["a", "b"]}))


Event = tuple[str | None, str]


def sse(gw: RunningGateway, body: dict[str, Any], *, path: str = "/v1/chat/completions"
        ) -> tuple[httpx.Response, list[Event]]:
    """POST and read the whole event stream raw: (response, [(event name, data)])."""
    with httpx.Client(base_url=gw.url, timeout=10,
                      headers={"authorization": f"Bearer {MASTER_KEY}"}) as http, \
            http.stream("POST", path, json=body) as response:
        text = response.read().decode()
    events: list[Event] = []
    for block in text.split("\n\n"):
        name: str | None = None
        data: list[str] = []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((name, "\n".join(data)))
    return response, events


def chunk_text(datas: list[str]) -> str:
    chunks = [json.loads(d) for d in datas]
    return "".join(c["choices"][0]["delta"].get("content") or ""
                   for c in chunks if c.get("choices"))


def calls(sim: Sim, model: str) -> int:
    count: int = sim.stats()["by_model"].get(model, 0)
    return count


def metric(gw: RunningGateway, name: str, **labels: str) -> float:
    with gw.client() as http:
        text = http.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


# --- before the first token: fall back like any other error ---------------------------


def test_failures_before_the_first_token_fall_back(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = fallback_gateway(sim, gateway_factory)
    cases = [
        ({"status": 503}, "upstream_overloaded"),
        ({"status": 429}, "upstream_rate_limited"),
        ({"reset_after_chunks": 0}, "upstream_stream_broken"),
        ({"truncate_after_chunks": 0}, "upstream_stream_broken"),
    ]
    for fault, code in cases:
        sim.fault("up-a", times=1, **fault)
        response, events = sse(gw, STREAM_BODY)
        assert response.status_code == 200, fault
        assert response.headers["x-pavedroad-route"] == f"a:{code}, b:ok", fault
        assert events[-1] == (None, "[DONE]"), fault
        assert chunk_text([d for _, d in events[:-1]]) == "Simulated reply from up-b: ping"
    assert calls(sim, "up-b") == len(cases)


# --- after the first token: an error event, never [DONE] ---------------------------


@pytest.mark.parametrize(("fault", "delivered"), MID_STREAM_FAULTS, ids=MID_STREAM_IDS)
def test_break_after_first_token_ends_with_error_event_and_no_done(
    sim: Sim, gateway_factory: GatewayFactory, fault: dict[str, Any], delivered: int
) -> None:
    gw = fallback_gateway(sim, gateway_factory)
    sim.fault("up-a", **fault)
    response, events = sse(gw, STREAM_BODY)

    assert response.status_code == 200
    assert response.headers["x-pavedroad-route"] == "a:ok"  # sent before the break
    assert all(name is None for name, _ in events)
    datas = [d for _, d in events]
    assert "[DONE]" not in datas
    *chunks, last = datas
    assert len(chunks) == delivered
    assert "Simulated reply from up-a: ping".startswith(chunk_text(chunks))
    error = json.loads(last)["error"]
    assert error["code"] == "upstream_stream_broken"
    assert error["type"] == "upstream_error"
    assert error["message"]
    # Too late to fall back: the client already has a's words.
    assert calls(sim, "up-b") == 0


def test_openai_sdk_raises_on_the_mid_stream_error(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = fallback_gateway(sim, gateway_factory)
    sim.fault("up-a", reset_after_chunks=3)
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY, max_retries=0)
    received: list[Any] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in oa.chat.completions.create(model="m", messages=PING, stream=True):
            received.append(chunk)
    assert len(received) == 3
    assert info.value.code == "upstream_stream_broken"


@pytest.mark.parametrize("anthropic_wire", [False, True], ids=["openai-upstream",
                                                                "anthropic-upstream"])
def test_messages_stream_break_ends_in_error_event_without_message_stop(
    sim: Sim, gateway_factory: GatewayFactory, anthropic_wire: bool
) -> None:
    gw = gateway_factory(config([deployment(sim, "a", anthropic_wire=anthropic_wire)], "a"))
    sim.fault("up-a", reset_after_chunks=4)
    body = {"model": "m", "max_tokens": 50, "messages": PING, "stream": True}
    _, events = sse(gw, body, path="/v1/messages")
    names = [name for name, _ in events]
    assert names[0] == "message_start"
    assert "message_stop" not in names
    assert names[-1] == "error"
    assert json.loads(events[-1][1])["error"]["code"] == "upstream_stream_broken"

    # The official SDK turns that event into an exception.
    sim.fault("up-a", reset_after_chunks=4)
    client = anthropic.Anthropic(base_url=gw.url, api_key=MASTER_KEY, max_retries=0)
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as info:
        for event in client.messages.create(model="m", max_tokens=50, messages=PING,
                                            stream=True):
            seen.append(event.type)
    assert seen[0] == "message_start"
    assert "message_stop" not in seen
    body_seen = info.value.body
    assert isinstance(body_seen, dict)
    assert body_seen["error"]["code"] == "upstream_stream_broken"


def test_total_time_limit_ends_a_running_stream_with_timeout_event(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config([deployment(sim, "a", timeouts={"total": 0.4})], "a"))
    sim.fault("up-a", chunk_delay_ms=150)
    started = time.perf_counter()
    _, events = sse(gw, STREAM_BODY)
    elapsed = time.perf_counter() - started
    datas = [d for _, d in events]
    assert "[DONE]" not in datas
    assert 1 <= len(datas) - 1 < 8
    assert json.loads(datas[-1])["error"]["code"] == "upstream_timeout"
    assert elapsed < 1.0


# --- the broken attempt is recorded -------------------------------------------------


def test_mid_stream_break_is_recorded_in_metrics(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(config([deployment(sim, "a")], "a"))
    errors = {"name": "pavedroad_upstream_errors_total", "deployment": "a",
              "code": "upstream_stream_broken"}
    requests = {"name": "pavedroad_requests_total", "endpoint": "chat", "model": "m",
                "code": "upstream_stream_broken"}
    assert metric(gw, **errors) == 0.0
    for expected, fault in enumerate(MID_STREAM_FAULTS, start=1):
        sim.fault("up-a", times=1, **fault[0])
        sse(gw, STREAM_BODY)
        assert metric(gw, **errors) == expected
    deadline = time.monotonic() + 2
    while metric(gw, **requests) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)  # the request is observed as its relay is closed
    assert metric(gw, **requests) == 3
    assert metric(gw, "pavedroad_requests_total", endpoint="chat", model="m", code="ok") == 0.0


def test_consecutive_mid_stream_breaks_open_the_breaker(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = fallback_gateway(sim, gateway_factory,
                          breaker={"consecutive_failures": 2, "cooldown_seconds": 30})
    sim.fault("up-a", reset_after_chunks=3)
    for _ in range(2):
        response, _ = sse(gw, STREAM_BODY)
        assert response.headers["x-pavedroad-route"] == "a:ok"
    response, events = sse(gw, STREAM_BODY)
    assert response.headers["x-pavedroad-route"] == "a:circuit_open, b:ok"
    assert events[-1] == (None, "[DONE]")
