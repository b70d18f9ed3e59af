"""Cost per request through the real gateway, against the simulator's usage figures: both
provider wire formats, streaming and not, cached and cache-written prompt tokens,
unpriced deployments and estimated usage."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pavedroad.metering.cost import format_usd
from pavedroad.metering.tokens import tokens_for_chars
from tests.support.ledger import wait_for_rows
from tests.support.servers import MASTER_KEY, RunningGateway, Sim

pytestmark = pytest.mark.timeout(60)

GatewayFactory = Callable[..., RunningGateway]
PING = [{"role": "user", "content": "ping " * 30}]
MINI = (0.15, 0.60, 0.075)  # gpt-4o-mini: input, output, cached input per 1M
HAIKU = (0.80, 4.00, 0.08, 1.00)  # claude-3-5-haiku: input, output, cache read, cache write


@pytest.fixture
def gw(sim: Sim, gateway_factory: GatewayFactory) -> RunningGateway:
    base = f"{sim.url}/v1"
    deployments = [
        {"name": "oa", "provider": "openai_compatible", "model": "gpt-4o-mini", "api_base": base},
        {"name": "an", "provider": "anthropic", "model": "claude-3-5-haiku-20241022",
         "api_base": sim.url},
        {"name": "local", "provider": "openai_compatible", "model": "up-local", "api_base": base},
        {"name": "custom", "provider": "openai_compatible", "model": "up-custom",
         "api_base": base, "pricing": {"input": 1.0, "output": 2.0, "cached_input": 0.5}},
    ]
    return gateway_factory(json.dumps({
        "store": {"url": "{db}"}, "deployments": deployments,
        "metering": {"ledger": {"flush_seconds": 0.05}},
        "models": [{"name": n, "route": d} for n, d in
                   (("via-openai", "oa"), ("via-anthropic", "an"), ("local", "local"),
                    ("custom", "custom"))],
    }))


def http(gw: RunningGateway) -> httpx.Client:
    return httpx.Client(base_url=gw.url, timeout=15,
                        headers={"authorization": f"Bearer {MASTER_KEY}"})


def openai_cost(usage: dict[str, Any], prices: tuple[float, float, float]) -> float:
    cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
    return ((usage["prompt_tokens"] - cached) * prices[0] + cached * prices[2]
            + usage["completion_tokens"] * prices[1]) / 1e6


def anthropic_cost(usage: dict[str, Any]) -> float:
    return (usage["input_tokens"] * HAIKU[0] + usage["output_tokens"] * HAIKU[1]
            + usage["cache_read_input_tokens"] * HAIKU[2]
            + usage["cache_creation_input_tokens"] * HAIKU[3]) / 1e6


def stream(gw: RunningGateway, path: str, body: dict[str, Any]) -> tuple[httpx.Headers, str]:
    with http(gw) as client, client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        return response.headers, response.read().decode()


def test_openai_format_non_streaming_with_cached_tokens(gw: RunningGateway, sim: Sim) -> None:
    sim.fault("gpt-4o-mini", cached_tokens=20)
    with http(gw) as client:
        response = client.post("/v1/chat/completions", json={"model": "via-openai",
                                                              "messages": PING})
    usage = response.json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 20
    expected = openai_cost(usage, MINI)
    assert response.headers["x-pavedroad-cost-usd"] == format_usd(expected)
    assert response.headers["x-pavedroad-usage-source"] == "provider"
    rid = response.headers["x-pavedroad-request-id"]
    row = wait_for_rows(gw.url, [rid])[rid]
    assert row["cost_usd"] == pytest.approx(expected, abs=1e-9)
    assert (row["prompt_tokens"], row["cached_tokens"]) == (usage["prompt_tokens"], 20)
    assert row["usage_source"] == "provider" and row["stream"] is False
    assert row["deployment"] == "oa" and row["model"] == "via-openai" and row["outcome"] == "ok"
    assert row["latency_ms"] > 0 and row["route"] == "oa:ok"


def test_openai_format_stream_costs_from_the_usage_chunk(gw: RunningGateway, sim: Sim) -> None:
    sim.fault("gpt-4o-mini", cached_tokens=8)
    headers, text = stream(gw, "/v1/chat/completions", {
        "model": "via-openai", "messages": PING, "stream": True,
        "stream_options": {"include_usage": True}})
    chunks = [json.loads(line[5:]) for line in text.splitlines()
              if line.startswith("data:") and "[DONE]" not in line]
    usage = chunks[-1]["usage"]
    assert "x-pavedroad-cost-usd" not in headers  # unknown before the stream ends
    rid = headers["x-pavedroad-request-id"]
    row = wait_for_rows(gw.url, [rid])[rid]
    assert row["cost_usd"] == pytest.approx(openai_cost(usage, MINI), abs=1e-9)
    assert row["cached_tokens"] == 8 and row["completion_tokens"] == usage["completion_tokens"]
    assert row["stream"] is True and row["usage_source"] == "provider"
    assert row["ttft_ms"] is not None and 0 < row["ttft_ms"] <= row["latency_ms"]


def test_stream_without_include_usage_is_still_costed_from_provider_usage(
    gw: RunningGateway,
) -> None:
    headers, _ = stream(gw, "/v1/chat/completions", {"model": "via-openai", "messages": PING,
                                                      "stream": True})
    rid = headers["x-pavedroad-request-id"]
    row = wait_for_rows(gw.url, [rid])[rid]
    assert row["usage_source"] == "provider"
    assert row["completion_tokens"] > 0 and row["cost_usd"] > 0


@pytest.mark.parametrize("streaming", [False, True])
def test_anthropic_format_prices_cache_reads_and_writes(
    gw: RunningGateway, sim: Sim, streaming: bool,
) -> None:
    sim.fault("claude-3-5-haiku-20241022", cached_tokens=12, cache_write_tokens=9)
    body = {"model": "via-anthropic", "max_tokens": 100, "messages": PING, "stream": streaming}
    if streaming:
        headers, text = stream(gw, "/v1/messages", body)
        events = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]
        start = next(e for e in events if e["type"] == "message_start")["message"]["usage"]
        delta = [e for e in events if e["type"] == "message_delta"][-1]["usage"]
        usage = {**start, **delta}
    else:
        with http(gw) as client:
            response = client.post("/v1/messages", json=body)
        headers, usage = response.headers, response.json()["usage"]
        assert headers["x-pavedroad-cost-usd"] == format_usd(anthropic_cost(usage))
    # The caller sees the cache figures the Anthropic upstream reported, unchanged.
    assert (usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]) == (12, 9)
    rid = headers["x-pavedroad-request-id"]
    row = wait_for_rows(gw.url, [rid])[rid]
    assert (row["cached_tokens"], row["cache_write_tokens"]) == (12, 9)
    assert row["cost_usd"] == pytest.approx(anthropic_cost(usage), abs=1e-9)
    assert row["endpoint"] == "messages" and row["deployment"] == "an"


def test_anthropic_deployment_through_the_openai_api_reports_cache_writes(
    gw: RunningGateway, sim: Sim,
) -> None:
    sim.fault("claude-3-5-haiku-20241022", cache_write_tokens=5)
    with http(gw) as client:
        response = client.post("/v1/chat/completions", json={"model": "via-anthropic",
                                                              "messages": PING})
    usage = response.json()["usage"]
    assert usage["prompt_tokens_details"]["cache_write_tokens"] == 5
    fresh = usage["prompt_tokens"] - 5
    expected = (fresh * HAIKU[0] + 5 * HAIKU[3] + usage["completion_tokens"] * HAIKU[1]) / 1e6
    assert response.headers["x-pavedroad-cost-usd"] == format_usd(expected)


def unpriced_count(gw: RunningGateway) -> float:
    with http(gw) as client:
        text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "pavedroad_unpriced_requests_total"
                    and sample.labels.get("deployment") == "local"):
                return float(sample.value)
    return 0.0


def test_unpriced_deployments_are_flagged_never_priced_at_zero(gw: RunningGateway) -> None:
    before = unpriced_count(gw)
    with http(gw) as client:
        response = client.post("/v1/chat/completions", json={"model": "local", "messages": PING})
    assert response.status_code == 200
    assert "x-pavedroad-cost-usd" not in response.headers
    assert response.headers["x-pavedroad-usage-source"] == "provider"
    assert unpriced_count(gw) == before + 1
    rid = response.headers["x-pavedroad-request-id"]
    row = wait_for_rows(gw.url, [rid])[rid]
    assert row["cost_usd"] is None
    assert row["prompt_tokens"] > 0  # the tokens are still known


def test_config_pricing_overrides_apply(gw: RunningGateway, sim: Sim) -> None:
    sim.fault("up-custom", cached_tokens=10)
    with http(gw) as client:
        response = client.post("/v1/chat/completions", json={"model": "custom",
                                                              "messages": PING})
    usage = response.json()["usage"]
    expected = openai_cost(usage, (1.0, 2.0, 0.5))
    assert response.headers["x-pavedroad-cost-usd"] == format_usd(expected)


@pytest.mark.parametrize("streaming", [False, True])
def test_missing_provider_usage_is_estimated_and_says_so(
    gw: RunningGateway, sim: Sim, streaming: bool,
) -> None:
    sim.fault("gpt-4o-mini", omit_usage=True)
    body = {"model": "via-openai", "messages": PING, "stream": streaming}
    if streaming:
        body["stream_options"] = {"include_usage": True}
        headers, text = stream(gw, "/v1/chat/completions", body)
        chunks = [json.loads(line[5:]) for line in text.splitlines()
                  if line.startswith("data:") and "[DONE]" not in line]
        assert all(not c.get("usage") for c in chunks)
        answer = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    else:
        with http(gw) as client:
            response = client.post("/v1/chat/completions", json=body)
        assert "usage" not in response.json()
        headers = response.headers
        answer = response.json()["choices"][0]["message"]["content"]
        assert headers["x-pavedroad-usage-source"] == "estimated"
        assert float(headers["x-pavedroad-cost-usd"]) > 0
    rid = headers["x-pavedroad-request-id"]
    row = wait_for_rows(gw.url, [rid])[rid]
    assert row["usage_source"] == "estimated"
    assert row["completion_tokens"] == tokens_for_chars(len(answer))
    assert row["prompt_tokens"] > 30  # ~150 characters of prompt
    assert row["cost_usd"] == pytest.approx(
        (row["prompt_tokens"] * MINI[0] + row["completion_tokens"] * MINI[1]) / 1e6, abs=1e-9)
