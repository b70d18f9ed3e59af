"""Fault injection (rules and header), the control API and request statistics."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from pavedroad.sim import Fault, SimState, SimulatedReset, create_app

OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        yield c


def chat(model: str = "m", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi there"}], **extra}


def claude(model: str = "c", **extra: Any) -> dict[str, Any]:
    return {"max_tokens": 100, **chat(model), **extra}


async def add_rule(client: httpx.AsyncClient, fault: dict[str, Any], **rule: Any) -> None:
    r = await client.post("/sim/faults", json={"fault": fault, **rule})
    assert r.status_code == 200


async def test_rule_status_with_retry_after(client: httpx.AsyncClient) -> None:
    await add_rule(client, {"status": 429, "retry_after": 2}, model="m")
    r = await client.post(OPENAI, json=chat())
    assert r.status_code == 429
    assert r.headers["retry-after"] == "2"
    assert r.json()["error"]["type"] == "rate_limit_error"
    other = await client.post(OPENAI, json=chat("other-model"))
    assert other.status_code == 200


async def test_rules_count_down_and_first_match_wins(client: httpx.AsyncClient) -> None:
    await add_rule(client, {"status": 503}, model="*", times=2)
    await add_rule(client, {"status": 500}, model="m")
    statuses = [(await client.post(OPENAI, json=chat())).status_code for _ in range(3)]
    assert statuses == [503, 503, 500]
    rules = (await client.get("/sim/faults")).json()["rules"]
    assert rules == [{"model": "m", "fault": {"status": 500}, "times": None}]
    cleared = await client.delete("/sim/faults")
    assert cleared.json() == {"cleared": 1}
    assert (await client.post(OPENAI, json=chat())).status_code == 200


async def test_header_fault_beats_rules(client: httpx.AsyncClient) -> None:
    await add_rule(client, {"status": 500}, times=1)
    r = await client.post(OPENAI, json=chat(), headers={"x-sim-fault": "status=503"})
    assert r.status_code == 503
    assert r.json()["error"]["type"] == "server_error"
    # The rule was not consumed by the header-faulted request.
    assert (await client.post(OPENAI, json=chat())).status_code == 500
    assert (await client.post(OPENAI, json=chat())).status_code == 200


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, "rate_limit_error"), (529, "overloaded_error"), (500, "api_error"), (503, "api_error")],
)
async def test_anthropic_error_types(client: httpx.AsyncClient, status: int, kind: str) -> None:
    r = await client.post(ANTHROPIC, json=claude(), headers={"x-sim-fault": f"status={status}"})
    assert r.status_code == status
    body = r.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    assert body["error"]["message"]


async def test_bad_fault_header_and_rule_are_400s(client: httpx.AsyncClient) -> None:
    r = await client.post(OPENAI, json=chat(), headers={"x-sim-fault": "nonsense=1"})
    assert r.status_code == 400
    assert "x-sim-fault" in r.json()["error"]["message"]
    for bad in ({"fault": {"status": "x"}}, {"fault": {}, "times": 0}, {"model": "m"}, [1]):
        assert (await client.post("/sim/faults", json=bad)).status_code == 400


async def test_latency(client: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    r = await client.post(OPENAI, json=chat(), headers={"x-sim-fault": "latency_ms=150"})
    assert r.status_code == 200
    assert time.perf_counter() - started >= 0.14


async def test_stream_delays(client: httpx.AsyncClient) -> None:
    header = {"x-sim-fault": "first_token_ms=60;chunk_delay_ms=10"}
    started = time.perf_counter()
    r = await client.post(OPENAI, json=chat(stream=True), headers=header)
    chunks = r.text.count("data: ")
    assert time.perf_counter() - started >= 0.06 + 0.01 * (chunks - 2)
    assert r.text.endswith("data: [DONE]\n\n")


async def test_malformed_json_non_streaming(client: httpx.AsyncClient) -> None:
    r = await client.post(OPENAI, json=chat(), headers={"x-sim-fault": "malformed_json=true"})
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)


async def test_malformed_json_in_one_stream_line(client: httpx.AsyncClient) -> None:
    fault = {"x-sim-fault": "malformed_json=1"}
    r = await client.post(OPENAI, json=chat(stream=True), headers=fault)
    bad = []
    for line in r.text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            try:
                json.loads(line[6:])
            except json.JSONDecodeError:
                bad.append(line)
    assert len(bad) == 1
    assert r.text.endswith("data: [DONE]\n\n")


async def test_truncate_openai_stream_without_done(client: httpx.AsyncClient) -> None:
    r = await client.post(OPENAI, json=chat(stream=True), headers={"x-sim-fault": "truncate_after_chunks=2"})
    assert r.status_code == 200
    assert r.text.count("data: ") == 2
    assert "[DONE]" not in r.text


async def test_truncate_longer_than_stream_still_drops_terminal(client: httpx.AsyncClient) -> None:
    header = {"x-sim-fault": "truncate_after_chunks=999"}
    r = await client.post(ANTHROPIC, json=claude(stream=True), headers=header)
    assert "message_delta" in r.text
    assert "message_stop" not in r.text


async def test_reset_after_chunks_raises_mid_stream() -> None:
    app = create_app()
    # Keep the app exception: it is how a dropped connection shows up without a socket.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        with pytest.raises(SimulatedReset):
            await c.post(OPENAI, json=chat(stream=True), headers={"x-sim-fault": "reset_after_chunks=1"})
        with pytest.raises(SimulatedReset):
            await c.post(OPENAI, json=chat(), headers={"x-sim-fault": "reset_after_chunks=0"})
        # The app is still healthy afterwards.
        assert (await c.post(OPENAI, json=chat())).status_code == 200


async def test_cached_tokens_and_content(client: httpx.AsyncClient) -> None:
    await add_rule(client, {"cached_tokens": 7, "content": "Exact words."})
    body = (await client.post(OPENAI, json=chat())).json()
    assert body["choices"][0]["message"]["content"] == "Exact words."
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 7
    assert body["usage"]["prompt_tokens"] == 7  # never less than the cached part
    body = (await client.post(ANTHROPIC, json=claude())).json()
    assert body["content"][0]["text"] == "Exact words."
    assert body["usage"]["cache_read_input_tokens"] == 7
    assert body["usage"]["input_tokens"] == 0


async def test_stats_and_reset(client: httpx.AsyncClient) -> None:
    await client.post(OPENAI, json=chat("a"), headers={"authorization": "Bearer secret-1"})
    await client.post(ANTHROPIC, json=claude("b"), headers={"X-Api-Key": "secret-2"})
    await client.post(OPENAI, json=chat("a"), headers={"x-sim-fault": "status=500"})
    stats = (await client.get("/sim/stats")).json()
    assert stats["requests"] == 3
    assert stats["by_model"] == {"a": 2, "b": 1}
    assert stats["by_path"] == {OPENAI: 2, ANTHROPIC: 1}
    assert stats["last_headers"]["x-sim-fault"] == "status=500"
    assert "x-api-key" not in stats["last_headers"]
    await client.post("/sim/faults", json={"fault": {"status": 500}})
    assert (await client.post("/sim/reset")).status_code == 200
    stats = (await client.get("/sim/stats")).json()
    assert stats["requests"] == 0
    assert stats["by_model"] == {}
    assert stats["active_rules"] == 0
    body = (await client.post(OPENAI, json=chat())).json()
    assert body["id"] == "chatcmpl-sim1"  # ids restart too


async def test_last_headers_keep_credentials(client: httpx.AsyncClient) -> None:
    await client.post(ANTHROPIC, json=claude(), headers={"X-Api-Key": "secret-2"})
    stats = (await client.get("/sim/stats")).json()
    assert stats["last_headers"]["x-api-key"] == "secret-2"


def test_each_app_has_fresh_state() -> None:
    first, second = create_app(), create_app()
    assert isinstance(first.state.sim, SimState)
    first.state.sim.add_rule("*", Fault(status=500))
    assert second.state.sim.rules == []
