"""The simulator speaking the Anthropic Messages API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from pavedroad.sim import create_app

SEARCH_TOOL = {
    "name": "search",
    "input_schema": {
        "type": "object",
        "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["query"],
    },
}
CLOCK_TOOL = {"name": "clock", "input_schema": {"type": "object", "properties": {}}}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        yield c


def msg(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-sim",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, decoded data) pairs, checking each event names its own payload type."""
    out = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        event_line, data_line = block.split("\n")
        name = event_line.removeprefix("event: ")
        data = json.loads(data_line.removeprefix("data: "))
        assert data["type"] == name
        out.append((name, data))
    return out


async def test_non_streaming_message_shape(client: httpx.AsyncClient) -> None:
    payload = msg("Hi!", system=[{"type": "text", "text": "Be nice"}])
    r = await client.post("/v1/messages", json=payload)
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "msg_sim1"
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert body["model"] == "claude-sim"
    assert body["content"] == [{"type": "text", "text": "Simulated reply from claude-sim: Hi!"}]
    assert body["stop_reason"] == "end_turn"
    assert body["stop_sequence"] is None
    assert body["usage"]["input_tokens"] == 4  # "Be nice" + "Hi!"
    assert body["usage"]["output_tokens"] == 9
    assert body["usage"]["cache_read_input_tokens"] == 0


async def test_max_tokens_is_required(client: httpx.AsyncClient) -> None:
    payload = msg()
    del payload["max_tokens"]
    r = await client.post("/v1/messages", json=payload)
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"model": "m", "max_tokens": 5}'])
async def test_bad_requests_are_anthropic_400s(client: httpx.AsyncClient, body: bytes) -> None:
    r = await client.post("/v1/messages", content=body)
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


async def test_streaming_event_sequence(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/messages", json=msg("a b c", stream=True))
    assert r.headers["content-type"].startswith("text/event-stream")
    seq = events(r.text)
    names = [name for name, _ in seq]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = [d["delta"] for n, d in seq if n == "content_block_delta"]
    assert all(d["type"] == "text_delta" for d in deltas)
    assert "".join(d["text"] for d in deltas) == "Simulated reply from claude-sim: a b c"
    start = seq[0][1]["message"]
    assert start["content"] == []
    assert start["usage"]["input_tokens"] == 3
    final = seq[-2][1]
    assert final["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert final["usage"]["output_tokens"] == 10


async def test_stop_sequences_and_max_tokens(client: httpx.AsyncClient) -> None:
    body = (await client.post("/v1/messages", json=msg(stop_sequences=["from"]))).json()
    assert body["content"][0]["text"] == "Simulated reply "
    assert body["stop_reason"] == "stop_sequence"
    assert body["stop_sequence"] == "from"
    body = (await client.post("/v1/messages", json=msg(max_tokens=2))).json()
    assert body["content"][0]["text"] == "Simulated reply"
    assert body["stop_reason"] == "max_tokens"
    assert body["usage"]["output_tokens"] == 2


async def test_tool_use(client: httpx.AsyncClient) -> None:
    payload = msg("please search the docs", tools=[CLOCK_TOOL, SEARCH_TOOL])
    body = (await client.post("/v1/messages", json=payload)).json()
    assert body["stop_reason"] == "tool_use"
    assert body["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"query": "example"}}
    ]


async def test_tool_choice_variants(client: httpx.AsyncClient) -> None:
    both = msg("search then clock", tools=[CLOCK_TOOL, SEARCH_TOOL])
    body = (await client.post("/v1/messages", json=both)).json()
    assert [b["name"] for b in body["content"]] == ["clock", "search"]
    single = {**both, "tool_choice": {"type": "auto", "disable_parallel_tool_use": True}}
    body = (await client.post("/v1/messages", json=single)).json()
    assert [b["name"] for b in body["content"]] == ["clock"]
    named = {**both, "tool_choice": {"type": "tool", "name": "search"}}
    body = (await client.post("/v1/messages", json=named)).json()
    assert [b["name"] for b in body["content"]] == ["search"]
    none = {**both, "tool_choice": {"type": "none"}}
    body = (await client.post("/v1/messages", json=none)).json()
    assert body["content"][0]["type"] == "text"
    bad = {**both, "tool_choice": {"type": "tool", "name": "missing"}}
    assert (await client.post("/v1/messages", json=bad)).status_code == 400


async def test_tool_result_gets_text_answer(client: httpx.AsyncClient) -> None:
    messages = [
        {"role": "user", "content": "search it"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "search", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "found 3"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "and more"}],
                },
            ],
        },
    ]
    payload = {"model": "c", "max_tokens": 50, "messages": messages, "tools": [SEARCH_TOOL]}
    body = (await client.post("/v1/messages", json=payload)).json()
    assert body["content"] == [{"type": "text", "text": "Tool results received: found 3 and more"}]
    assert body["stop_reason"] == "end_turn"


async def test_streamed_tool_use(client: httpx.AsyncClient) -> None:
    payload = msg("search", tools=[SEARCH_TOOL], stream=True)
    seq = events((await client.post("/v1/messages", json=payload)).text)
    start = next(d for n, d in seq if n == "content_block_start")
    assert start["content_block"] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "search",
        "input": {},
    }
    parts = [d["delta"]["partial_json"] for n, d in seq if n == "content_block_delta"]
    assert len(parts) >= 2
    assert json.loads("".join(parts)) == {"query": "example"}
    assert seq[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_required_key_uses_anthropic_error_shape() -> None:
    transport = httpx.ASGITransport(app=create_app(require_key="k"))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        r = await c.post("/v1/messages", json=msg(), headers={"x-api-key": "wrong"})
        assert r.status_code == 401
        assert r.json()["error"]["type"] == "authentication_error"
        r = await c.post("/v1/messages", json=msg(), headers={"x-api-key": "k"})
        assert r.status_code == 200
