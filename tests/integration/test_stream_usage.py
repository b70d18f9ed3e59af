"""Usage in streams: the gateway always asks the upstream for usage (so metering sees it)
and passes the usage chunk on only when the caller asked with `stream_options`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import MASTER_KEY, RunningGateway, Sim

pytestmark = pytest.mark.timeout(30)

GatewayFactory = Callable[..., RunningGateway]
PING = [{"role": "user", "content": "ping"}]


@pytest.fixture
def gw(sim: Sim, gateway_factory: GatewayFactory) -> RunningGateway:
    deployments = [
        {"name": "oa", "provider": "openai_compatible", "model": "up-oa",
         "api_base": f"{sim.url}/v1"},
        {"name": "an", "provider": "anthropic", "model": "up-an", "api_base": sim.url},
    ]
    return gateway_factory(json.dumps({
        "store": {"url": "{db}"}, "deployments": deployments,
        "models": [{"name": "via-openai", "route": "oa"},
                   {"name": "via-anthropic", "route": "an"}],
    }))


def stream_datas(gw: RunningGateway, body: dict[str, Any]) -> list[str]:
    with httpx.Client(base_url=gw.url, timeout=10,
                      headers={"authorization": f"Bearer {MASTER_KEY}"}) as http, \
            http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        text = response.read().decode()
    return [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]


def tokens(gw: RunningGateway, model: str, kind: str) -> float:
    with gw.client() as http:
        text = http.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "pavedroad_tokens_total" and sample.labels.get("model") == model
                    and sample.labels.get("kind") == kind):
                return float(sample.value)
    return 0.0


MODELS = ["via-openai", "via-anthropic"]


@pytest.mark.parametrize("model", MODELS)
def test_include_usage_puts_usage_in_the_last_chunk_before_done(
    gw: RunningGateway, model: str
) -> None:
    datas = stream_datas(gw, {"model": model, "messages": PING, "stream": True,
                              "stream_options": {"include_usage": True}})
    assert datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas[:-1]]
    last = chunks[-1]
    assert last["choices"] == []
    usage = last["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    # Exactly one chunk carries usage, and it is the last.
    assert [c for c in chunks if c.get("usage")] == [last]


@pytest.mark.parametrize("model", MODELS)
def test_without_include_usage_no_usage_chunk_is_sent_but_usage_is_metered(
    gw: RunningGateway, model: str
) -> None:
    datas = stream_datas(gw, {"model": model, "messages": PING, "stream": True})
    assert datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas[:-1]]
    assert chunks
    assert all(c.get("usage") is None for c in chunks)
    assert all(c["choices"] for c in chunks)  # no usage-only (choices: []) chunk
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text.endswith(": ping")
    # The gateway still asked the upstream for usage: the token counters moved.
    assert tokens(gw, model, "prompt") > 0
    assert tokens(gw, model, "completion") > 0


def test_openai_sdk_sees_usage_only_when_asked(gw: RunningGateway) -> None:
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY, max_retries=0)
    asked = list(oa.chat.completions.create(model="via-openai", messages=PING, stream=True,
                                            stream_options={"include_usage": True}))
    assert asked[-1].usage is not None
    assert asked[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in asked[:-1])

    plain = list(oa.chat.completions.create(model="via-openai", messages=PING, stream=True))
    assert all(c.usage is None for c in plain)
    assert len(plain) == len(asked) - 1
