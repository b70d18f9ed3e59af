"""The simulator speaking OpenAI (and Azure OpenAI) chat completions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from pavedroad.sim import create_app

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "note": {"type": "string"},
            },
            "required": ["city", "unit"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        yield c


def chat(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-sim", "messages": [{"role": "user", "content": text}], **extra}


def sse_chunks(body: str) -> list[Any]:
    """Decoded `data:` payloads; the literal [DONE] stays a string."""
    out: list[Any] = []
    for line in body.splitlines():
        if line.startswith("data: "):
            data = line[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


async def test_non_streaming_reply_shape(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=chat("Hello there, friend"))
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "chatcmpl-sim1"
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-sim"
    assert body["system_fingerprint"] == "sim"
    choice = body["choices"][0]
    assert choice["message"]["content"] == "Simulated reply from gpt-sim: Hello there, friend"
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["prompt_tokens"] == 4
    # "Simulated reply from gpt - sim : Hello there , friend": the hyphen is a token too.
    assert usage["completion_tokens"] == 11
    assert usage["total_tokens"] == 15
    second = await client.post("/chat/completions", json=chat())
    assert second.json()["id"] == "chatcmpl-sim2"


async def test_content_parts_are_joined_and_system_counts(client: httpx.AsyncClient) -> None:
    messages = [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "two"}]},
    ]
    r = await client.post("/v1/chat/completions", json={"model": "m", "messages": messages})
    assert r.json()["choices"][0]["message"]["content"] == "Simulated reply from m: part one two"
    assert r.json()["usage"]["prompt_tokens"] == 5


async def test_streaming_text_with_usage(client: httpx.AsyncClient) -> None:
    payload = chat("one two three", stream=True, stream_options={"include_usage": True})
    r = await client.post("/v1/chat/completions", json=payload)
    assert r.headers["content-type"].startswith("text/event-stream")
    chunks = sse_chunks(r.text)
    assert chunks[-1] == "[DONE]"
    usage_chunk = chunks[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 10
    deltas = chunks[:-2]
    assert all(c["object"] == "chat.completion.chunk" for c in deltas)
    assert deltas[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in deltas)
    assert text == "Simulated reply from gpt-sim: one two three"
    assert len(deltas) > 5  # word-sized pieces, not one blob
    assert deltas[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["usage"] is None for c in deltas)


async def test_streaming_without_usage_has_no_usage_chunk(client: httpx.AsyncClient) -> None:
    chunks = sse_chunks((await client.post("/v1/chat/completions", json=chat(stream=True))).text)
    assert chunks[-1] == "[DONE]"
    assert all("usage" not in c for c in chunks[:-1])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


async def test_max_tokens_truncates_with_length(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=chat(max_completion_tokens=3))
    choice = r.json()["choices"][0]
    assert choice["message"]["content"] == "Simulated reply from"
    assert choice["finish_reason"] == "length"
    assert r.json()["usage"]["completion_tokens"] == 3


async def test_stop_cuts_at_first_occurrence(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=chat(stop=["zzz", "from"]))
    choice = r.json()["choices"][0]
    assert choice["message"]["content"] == "Simulated reply "
    assert choice["finish_reason"] == "stop"
    r = await client.post("/v1/chat/completions", json=chat(stop="reply"))
    assert r.json()["choices"][0]["message"]["content"] == "Simulated "


async def test_n_choices(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=chat(n=3))
    body = r.json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert body["usage"]["completion_tokens"] == 3 * 9


async def test_tool_named_in_message_is_called(client: httpx.AsyncClient) -> None:
    payload = chat("What is get_time now?", tools=[WEATHER_TOOL, TIME_TOOL])
    r = await client.post("/v1/chat/completions", json=payload)
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in calls] == [("call_1", "get_time")]
    assert json.loads(calls[0]["function"]["arguments"]) == {}


async def test_first_tool_called_with_schema_arguments(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=chat("hi", tools=[WEATHER_TOOL, TIME_TOOL]))
    call = r.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "example", "unit": "celsius"}


async def test_parallel_and_forced_tool_choice(client: httpx.AsyncClient) -> None:
    both = chat("get_weather and get_time", tools=[WEATHER_TOOL, TIME_TOOL])
    r = await client.post("/v1/chat/completions", json=both)
    assert len(r.json()["choices"][0]["message"]["tool_calls"]) == 2
    r = await client.post("/v1/chat/completions", json={**both, "parallel_tool_calls": False})
    calls = r.json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather"]
    forced = {**both, "tool_choice": {"type": "function", "function": {"name": "get_time"}}}
    r = await client.post("/v1/chat/completions", json=forced)
    calls = r.json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_time"]
    r = await client.post("/v1/chat/completions", json={**both, "tool_choice": "none"})
    assert r.json()["choices"][0]["message"]["content"].startswith("Simulated reply")


async def test_unknown_forced_tool_is_a_400(client: httpx.AsyncClient) -> None:
    bad = chat(tools=[TIME_TOOL], tool_choice={"type": "function", "function": {"name": "nope"}})
    r = await client.post("/v1/chat/completions", json=bad)
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


async def test_tool_result_gets_text_answer(client: httpx.AsyncClient) -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_10", "content": "21C"},
    ]
    payload = {"model": "m", "messages": messages, "tools": [WEATHER_TOOL]}
    r = await client.post("/v1/chat/completions", json=payload)
    choice = r.json()["choices"][0]
    assert choice["message"]["content"] == "Tool results received: sunny 21C"
    assert choice["finish_reason"] == "stop"


async def test_streamed_tool_call_deltas(client: httpx.AsyncClient) -> None:
    payload = chat("get_weather", tools=[WEATHER_TOOL], stream=True)
    chunks = sse_chunks((await client.post("/v1/chat/completions", json=payload)).text)
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert calls[0]["id"] == "call_1"
    assert calls[0]["function"] == {"name": "get_weather", "arguments": ""}
    pieces = [c["function"]["arguments"] for c in calls[1:]]
    assert len(pieces) >= 2
    assert json.loads("".join(pieces)) == {"city": "example", "unit": "celsius"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_json_object_mode(client: httpx.AsyncClient) -> None:
    payload = chat("hi", response_format={"type": "json_object"})
    content = (await client.post("/v1/chat/completions", json=payload)).json()["choices"][0]
    assert json.loads(content["message"]["content"]) == {"reply": "Simulated reply from gpt-sim: hi"}


async def test_json_schema_mode(client: httpx.AsyncClient) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    r = await client.post("/v1/chat/completions", json=chat(response_format=fmt))
    assert json.loads(r.json()["choices"][0]["message"]["content"]) == {"name": "example", "age": 1}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[1, 2]",
        json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(),
        json.dumps({"model": "m", "messages": []}).encode(),
        json.dumps({"model": "m", "messages": "hi"}).encode(),
        json.dumps({"model": "m", "messages": [{"role": "user"}], "n": 0}).encode(),
        json.dumps({**chat(), "response_format": {"type": "xml"}}).encode(),
    ],
)
async def test_bad_requests_are_openai_400s(client: httpx.AsyncClient, body: bytes) -> None:
    r = await client.post("/v1/chat/completions", content=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]


async def test_azure_path_uses_deployment_and_requires_api_version(
    client: httpx.AsyncClient,
) -> None:
    path = "/openai/deployments/my-gpt/chat/completions"
    r = await client.post(path, params={"api-version": "2024-10-21"}, json=chat())
    assert r.status_code == 200
    assert r.json()["model"] == "my-gpt"
    r = await client.post(path, json=chat())
    assert r.status_code == 400
    assert "api-version" in r.json()["error"]["message"]


async def test_unknown_path_is_a_json_404(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/nothing", json={})
    assert r.status_code == 404
    assert "error" in r.json()
    r = await client.get("/v1/chat/completions")
    assert r.status_code == 405


async def test_required_key() -> None:
    transport = httpx.ASGITransport(app=create_app(require_key="k"))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        r = await c.post("/v1/chat/completions", json=chat())
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_api_key"
        wrong = {"authorization": "Bearer nope"}
        assert (await c.post("/v1/chat/completions", json=chat(), headers=wrong)).status_code == 401
        good = {"authorization": "Bearer k"}
        assert (await c.post("/v1/chat/completions", json=chat(), headers=good)).status_code == 200
        azure = "/openai/deployments/d/chat/completions?api-version=1"
        ok = await c.post(azure, json=chat(), headers={"api-key": "k"})
        assert ok.status_code == 200
