"""Rate limits of keys, apps, teams and tenants against the simulator: 429s with
Retry-After and `x-ratelimit-*` headers, shared counters, tokens per minute, streams."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pytest

from pavedroad.metering.tokens import estimate_prompt_tokens
from tests.support.servers import RunningGateway, Sim

pytestmark = pytest.mark.timeout(60)

GatewayFactory = Callable[..., RunningGateway]
HI = [{"role": "user", "content": "hi"}]


def limits_config(sim: Sim, upstream: str) -> str:
    return json.dumps({
        "store": {"url": "{db}"},
        "deployments": [{"name": "sim", "provider": "openai_compatible", "model": upstream,
                         "api_base": f"{sim.url}/v1", "retries": {"attempts": 0}}],
        "models": [{"name": "m", "route": "sim"}],
    })


def chat(gw: RunningGateway, key: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{gw.url}/v1/chat/completions", timeout=10,
                      headers={"authorization": f"Bearer {key}"},
                      json={"model": "m", "messages": HI, **body})


def org(gw: RunningGateway, *, tenant: dict[str, int] | None = None,
        team: dict[str, int] | None = None, app: dict[str, int] | None = None) -> str:
    """acme/search/copilot with the given limits at each level; the app's path."""
    with gw.client() as admin:
        assert admin.post("/admin/tenants", json={"name": "acme", "limits": tenant or {}}
                          ).status_code == 201
        assert admin.post("/admin/teams", json={"tenant": "acme", "name": "search",
                                                "limits": team or {}}).status_code == 201
        assert admin.post("/admin/apps", json={"team": "acme/search", "name": "copilot",
                                               "limits": app or {}}).status_code == 201
    return "acme/search/copilot"


def test_key_rpm_answers_429_with_retry_after_and_openai_headers(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(limits_config(sim, "up-rpm"))
    key = gw.create_key(limits={"rpm": 3})
    remaining = []
    for _ in range(3):
        ok = chat(gw, key)
        assert ok.status_code == 200
        assert ok.headers["x-ratelimit-limit-requests"] == "3"
        remaining.append(ok.headers["x-ratelimit-remaining-requests"])
    assert remaining == ["2", "1", "0"]
    refused = chat(gw, key)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "key 'test' allows 3 requests per minute" in refused.json()["error"]["message"]
    assert 19 <= int(refused.headers["retry-after"]) <= 20  # one request per 20 s refills
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"].endswith("s")
    assert sim.stats()["by_model"]["up-rpm"] == 3  # the refused one never reached upstream
    # Another key is not affected; neither is the master key, which has no limits.
    assert chat(gw, gw.create_key()).status_code == 200


@pytest.mark.parametrize("scope", ["app", "team", "tenant"])
def test_app_team_and_tenant_limits_are_shared_by_their_keys(
    scope: str, sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(limits_config(sim, f"up-shared-{scope}"))
    app = org(gw, **{scope: {"rpm": 2}})
    first, second = gw.create_key(app=app), gw.create_key(app=app)
    assert chat(gw, first).status_code == 200
    assert chat(gw, second).status_code == 200
    refused = chat(gw, second)
    assert refused.status_code == 429
    assert refused.json()["error"]["message"].startswith(f"rate limit reached: {scope} ")
    assert chat(gw, gw.create_key()).status_code == 200  # a key of another app


def test_the_narrowest_limit_refuses_and_nothing_is_used_up(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(limits_config(sim, "up-narrow"))
    app = org(gw, tenant={"rpm": 100}, team={"rpm": 10})
    key = gw.create_key(app=app, limits={"rpm": 1})
    ok = chat(gw, key)
    assert ok.headers["x-ratelimit-limit-requests"] == "1"  # the tightest: the key's
    assert chat(gw, key).status_code == 429
    # The refused request took nothing from the team: a sibling key sees 8 left after its own.
    sibling = chat(gw, gw.create_key(app=app))
    assert sibling.headers["x-ratelimit-limit-requests"] == "10"
    assert sibling.headers["x-ratelimit-remaining-requests"] == "8"


def test_tokens_per_minute_charge_the_estimate_then_the_actual_tokens(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(limits_config(sim, "up-tpm"))
    key = gw.create_key(limits={"tpm": 400})
    # The simulator counts each "!" as a token; the estimate is ~4 characters per token,
    # so this prompt uses far more tokens than it is estimated at.
    messages = [{"role": "user", "content": "!" * 420}]
    estimate = estimate_prompt_tokens({"messages": messages})
    first = chat(gw, key, messages=messages, max_tokens=5)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-tokens"] == "400"
    assert first.headers["x-ratelimit-remaining-tokens"] == str(400 - estimate)
    assert first.json()["usage"]["total_tokens"] > 400
    # Settled to the actual tokens, the bucket is in debt: even a small prompt must wait.
    refused = chat(gw, key)
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-remaining-tokens"] == "0"
    assert "tokens per minute" in refused.json()["error"]["message"]


def test_openai_and_anthropic_sdks_see_their_rate_limit_errors(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(limits_config(sim, "up-sdk"))
    key = gw.create_key(limits={"rpm": 1})
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
    assert caught.value.code == "rate_limited"
    assert caught.value.response.headers["retry-after"] == "60"
    messages = anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as refused:
        messages.messages.create(model="m", max_tokens=10, messages=HI)  # type: ignore[arg-type]
    assert refused.value.body["error"]["code"] == "rate_limited"  # type: ignore[index]


async def _open_stream(client: httpx.AsyncClient, key: str) -> tuple[httpx.Response, Any]:
    request = client.build_request(
        "POST", "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
        json={"model": "m", "messages": HI, "stream": True})
    response = await client.send(request, stream=True)
    lines = response.aiter_lines()
    return response, lines


async def test_concurrency_holds_for_streams_until_they_end_or_the_client_leaves(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(limits_config(sim, "up-streams"))
    sim.fault("up-streams", chunk_delay_ms=150)
    key = gw.create_key(limits={"concurrent": 2, "rpm": 100})
    async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
        held = [await _open_stream(client, key) for _ in range(2)]
        for response, lines in held:
            assert response.status_code == 200
            assert (await anext(lines)).startswith("data: ")  # streaming, slot held
        third = await client.post("/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                                  json={"model": "m", "messages": HI})
        assert third.status_code == 429 and third.headers["retry-after"] == "1"
        assert "allows 2 concurrent requests" in third.json()["error"]["message"]
        # One stream is read to its end, the other is abandoned mid-stream.
        async for _ in held[0][1]:
            pass
        await held[1][0].aclose()
        deadline = time.monotonic() + 5
        statuses = []
        while time.monotonic() < deadline:
            batch = await asyncio.gather(*(client.post(
                "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                json={"model": "m", "messages": HI, "stream": True}) for _ in range(2)))
            statuses = [r.status_code for r in batch]
            if statuses == [200, 200]:
                break
            await asyncio.sleep(0.1)
        assert statuses == [200, 200]  # both slots came back


@pytest.mark.slow
async def test_a_burst_gets_exactly_the_concurrency_limit(
    sim: Sim, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(limits_config(sim, "up-burst"))
    sim.fault("up-burst", latency_ms=1500)
    app = org(gw, team={"concurrent": 5})
    keys = [gw.create_key(app=app) for _ in range(4)]
    async with httpx.AsyncClient(base_url=gw.url, timeout=30,
                                 limits=httpx.Limits(max_connections=100)) as client:
        responses = await asyncio.gather(*(client.post(
            "/v1/chat/completions", headers={"authorization": f"Bearer {keys[i % 4]}"},
            json={"model": "m", "messages": HI}) for i in range(60)))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 5 and codes.count(429) == 55
    assert sim.stats()["by_model"]["up-burst"] == 5
