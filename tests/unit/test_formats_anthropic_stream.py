"""Streaming translation in both directions, asserted event by event."""

from __future__ import annotations

import json
from typing import Any

import anthropic.types
import openai.types.chat
import pydantic
import pytest

from pavedroad.core.errors import UpstreamBadResponse, UpstreamStreamBroken
from pavedroad.formats import AnthropicToOpenAIStream, OpenAIToAnthropicStream

ANTHROPIC_EVENT = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)


def message_start(usage: dict[str, int]) -> tuple[str, dict[str, Any]]:
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return "message_start", {"type": "message_start", "message": message}


def block_start(index: int, block: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "content_block_start", {
        "type": "content_block_start",
        "index": index,
        "content_block": block,
    }


def block_delta(index: int, delta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}


def block_stop(index: int) -> tuple[str, dict[str, Any]]:
    return "content_block_stop", {"type": "content_block_stop", "index": index}


def message_delta(stop_reason: str, output_tokens: int) -> tuple[str, dict[str, Any]]:
    data = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }
    return "message_delta", data


MESSAGE_STOP = ("message_stop", {"type": "message_stop"})
PING = ("ping", {"type": "ping"})

TEXT_EVENTS = [
    message_start({"input_tokens": 25, "cache_read_input_tokens": 5, "output_tokens": 1}),
    block_start(0, {"type": "text", "text": ""}),
    PING,
    block_delta(0, {"type": "text_delta", "text": "Hello"}),
    block_delta(0, {"type": "text_delta", "text": " there"}),
    block_stop(0),
    message_delta("end_turn", 12),
    MESSAGE_STOP,
]

TOOL_EVENTS = [
    message_start({"input_tokens": 40, "output_tokens": 1}),
    block_start(0, {"type": "thinking", "thinking": ""}),
    block_delta(0, {"type": "thinking_delta", "thinking": "plan"}),
    block_delta(0, {"type": "signature_delta", "signature": "sig"}),
    block_stop(0),
    block_start(1, {"type": "text", "text": ""}),
    block_delta(1, {"type": "text_delta", "text": "Checking."}),
    block_stop(1),
    block_start(2, {"type": "tool_use", "id": "toolu_a", "name": "weather", "input": {}}),
    block_delta(2, {"type": "input_json_delta", "partial_json": ""}),
    block_delta(2, {"type": "input_json_delta", "partial_json": '{"city":'}),
    block_delta(2, {"type": "input_json_delta", "partial_json": ' "Paris"}'}),
    block_stop(2),
    block_start(3, {"type": "tool_use", "id": "toolu_b", "name": "time", "input": {}}),
    block_delta(3, {"type": "input_json_delta", "partial_json": '{"tz": "CET"}'}),
    block_stop(3),
    message_delta("tool_use", 30),
    MESSAGE_STOP,
]


def run_anthropic(
    events: list[tuple[str, dict[str, Any]]], *, include_usage: bool
) -> list[dict[str, Any]]:
    stream = AnthropicToOpenAIStream(model="alias", include_usage=include_usage, created=1700)
    chunks: list[dict[str, Any]] = []
    for name, data in events:
        chunks.extend(stream.feed(name, data))
    assert stream.finished
    for chunk in chunks:
        openai.types.chat.ChatCompletionChunk.model_validate(chunk)
        assert (chunk["id"], chunk["created"], chunk["model"]) == ("msg_1", 1700, "alias")
        assert chunk["object"] == "chat.completion.chunk"
    return chunks


def shape(chunk: dict[str, Any]) -> tuple[Any, Any]:
    """(delta, finish_reason) of a content chunk, or ("usage", usage) of the final one."""
    if not chunk["choices"]:
        return ("usage", chunk["usage"])
    choice = chunk["choices"][0]
    return (choice["delta"], choice["finish_reason"])


# --- Anthropic -> OpenAI --------------------------------------------------------------


def test_anthropic_text_stream_chunk_sequence() -> None:
    chunks = run_anthropic(TEXT_EVENTS, include_usage=True)
    assert [shape(c) for c in chunks] == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Hello"}, None),
        ({"content": " there"}, None),
        ({}, "stop"),
        (
            "usage",
            {
                "prompt_tokens": 30,
                "completion_tokens": 12,
                "total_tokens": 42,
                "prompt_tokens_details": {"cached_tokens": 5},
            },
        ),
    ]
    assert all(c["usage"] is None for c in chunks[:-1])


def test_anthropic_text_and_two_tools_chunk_sequence() -> None:
    chunks = run_anthropic(TOOL_EVENTS, include_usage=False)
    assert [shape(c) for c in chunks] == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Checking."}, None),
        (
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "toolu_a",
                        "type": "function",
                        "function": {"name": "weather", "arguments": ""},
                    }
                ]
            },
            None,
        ),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}, None),
        (
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "toolu_b",
                        "type": "function",
                        "function": {"name": "time", "arguments": ""},
                    }
                ]
            },
            None,
        ),
        ({"tool_calls": [{"index": 1, "function": {"arguments": '{"tz": "CET"}'}}]}, None),
        ({}, "tool_calls"),
    ]
    assert all("usage" not in c for c in chunks)


def test_anthropic_stream_usage_property_tracks_progress() -> None:
    stream = AnthropicToOpenAIStream(model="m", include_usage=False)
    assert stream.usage is None
    for name, data in TEXT_EVENTS[:2]:
        stream.feed(name, data)
    assert stream.usage is not None
    assert stream.usage["completion_tokens"] == 1
    assert not stream.finished
    for name, data in TEXT_EVENTS[2:]:
        stream.feed(name, data)
    assert stream.usage["completion_tokens"] == 12
    assert stream.usage["prompt_tokens"] == 30


def test_anthropic_stream_error_event_raises_stream_broken() -> None:
    stream = AnthropicToOpenAIStream(model="m", include_usage=True)
    for name, data in TEXT_EVENTS[:4]:
        stream.feed(name, data)
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(UpstreamStreamBroken) as info:
        stream.feed("error", error)
    assert "Overloaded" in info.value.message
    assert info.value.details["upstream_error_type"] == "overloaded_error"


def test_anthropic_stream_without_message_delta_still_finishes() -> None:
    events = [*TEXT_EVENTS[:6], MESSAGE_STOP]
    chunks = run_anthropic(events, include_usage=False)
    assert shape(chunks[-1]) == ({}, "stop")
    assert [shape(c)[1] for c in chunks].count("stop") == 1


def test_anthropic_stream_ignores_events_after_stop_and_unknown_events() -> None:
    stream = AnthropicToOpenAIStream(model="m", include_usage=False)
    for name, data in TEXT_EVENTS:
        stream.feed(name, data)
    assert stream.feed("content_block_delta", TEXT_EVENTS[3][1]) == []
    fresh = AnthropicToOpenAIStream(model="m", include_usage=False)
    fresh.feed(*TEXT_EVENTS[0])
    assert fresh.feed("some_future_event", {"type": "some_future_event"}) == []


@pytest.mark.parametrize(
    "events",
    [
        [block_start(0, {"type": "text", "text": ""})],
        [TEXT_EVENTS[0], block_delta(5, {"type": "text_delta", "text": "x"})],
        [
            TEXT_EVENTS[0],
            ("content_block_start", {"index": "0", "content_block": {"type": "text"}}),
        ],
    ],
)
def test_anthropic_stream_protocol_violations_raise_bad_response(
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    stream = AnthropicToOpenAIStream(model="m", include_usage=False)
    with pytest.raises(UpstreamBadResponse):
        for name, data in events:
            stream.feed(name, data)


# --- OpenAI -> Anthropic --------------------------------------------------------------


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "g",
        "choices": choices,
        **extra,
    }


def tool_delta(index: int, arguments: str, **first: str) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if first:
        call.update(id=first["id"], type="function")
        call["function"]["name"] = first["name"]
    return {"tool_calls": [call]}


def run_openai(chunks: list[dict[str, Any]], **kwargs: Any) -> list[tuple[str, dict[str, Any]]]:
    stream = OpenAIToAnthropicStream(model="claude-alias", **kwargs)
    events: list[tuple[str, dict[str, Any]]] = []
    for item in chunks:
        events.extend(stream.feed(item))
    events.extend(stream.finish())
    assert stream.finish() == []
    for name, data in events:
        assert data["type"] == name
        ANTHROPIC_EVENT.validate_python(data)
    return events


def test_openai_text_stream_event_sequence() -> None:
    usage = {
        "prompt_tokens": 30,
        "completion_tokens": 2,
        "total_tokens": 32,
        "prompt_tokens_details": {"cached_tokens": 10},
    }
    events = run_openai(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
            chunk(None, usage=usage),
        ],
        input_tokens_hint=28,
    )
    start = events[0][1]["message"]
    assert start["id"] == "msg_chatcmpl-9"
    assert start["model"] == "claude-alias"
    assert start["usage"]["input_tokens"] == 28
    assert events[1:] == [
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hel"},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "lo"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {
                    "input_tokens": 20,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 10,
                    "output_tokens": 2,
                },
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_openai_text_and_two_tools_event_sequence() -> None:
    events = run_openai(
        [
            chunk({"role": "assistant", "content": "Checking."}),
            chunk(tool_delta(0, "", id="call_a", name="weather")),
            chunk(tool_delta(0, '{"city":')),
            chunk(tool_delta(0, '"Paris"}')),
            chunk(tool_delta(1, "{}", id="call_b", name="time")),
            chunk({}, "tool_calls"),
        ]
    )
    compact = [
        (name, data.get("index"), data.get("content_block") or data.get("delta"))
        for name, data in events
    ]
    assert compact == [
        ("message_start", None, None),
        ("content_block_start", 0, {"type": "text", "text": ""}),
        ("content_block_delta", 0, {"type": "text_delta", "text": "Checking."}),
        ("content_block_stop", 0, None),
        (
            "content_block_start",
            1,
            {"type": "tool_use", "id": "call_a", "name": "weather", "input": {}},
        ),
        ("content_block_delta", 1, {"type": "input_json_delta", "partial_json": '{"city":'}),
        ("content_block_delta", 1, {"type": "input_json_delta", "partial_json": '"Paris"}'}),
        ("content_block_stop", 1, None),
        (
            "content_block_start",
            2,
            {"type": "tool_use", "id": "call_b", "name": "time", "input": {}},
        ),
        ("content_block_delta", 2, {"type": "input_json_delta", "partial_json": "{}"}),
        ("content_block_stop", 2, None),
        ("message_delta", None, {"stop_reason": "tool_use", "stop_sequence": None}),
        ("message_stop", None, None),
    ]
    assert events[-2][1]["usage"] == {"output_tokens": 0}


def test_openai_empty_stream_still_yields_a_complete_message() -> None:
    names = [name for name, _ in run_openai([])]
    assert names == ["message_start", "message_delta", "message_stop"]


def test_openai_stream_maps_length_finish() -> None:
    events = run_openai([chunk({"content": "x"}, "length")])
    assert events[-2][1]["delta"]["stop_reason"] == "max_tokens"


def test_openai_stream_error_event() -> None:
    stream = OpenAIToAnthropicStream(model="m")
    stream.feed(chunk({"content": "partial"}))
    assert stream.error_event("upstream_timeout", "The upstream timed out") == (
        "error",
        {
            "type": "error",
            "error": {
                "type": "api_error",
                "message": "The upstream timed out",
                "code": "upstream_timeout",
            },
        },
    )
    assert stream.finish() == []


def test_openai_stream_rejects_arguments_for_a_closed_tool_block() -> None:
    stream = OpenAIToAnthropicStream(model="m")
    stream.feed(chunk(tool_delta(0, "{", id="a", name="f")))
    stream.feed(chunk(tool_delta(1, "{", id="b", name="g")))
    with pytest.raises(UpstreamBadResponse):
        stream.feed(chunk(tool_delta(0, "}")))


# --- both directions ------------------------------------------------------------------


def rebuild(events: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Assemble Anthropic content blocks from events, as a client would."""
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    for name, data in events:
        if name == "content_block_start":
            blocks[data["index"]] = dict(data["content_block"])
        elif name == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                blocks[data["index"]]["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
    for index, text in partial.items():
        blocks[index]["input"] = json.loads(text)
    return [blocks[i] for i in sorted(blocks)]


def test_stream_round_trip_anthropic_to_openai_to_anthropic() -> None:
    chunks = run_anthropic(TOOL_EVENTS, include_usage=True)
    events = run_openai(chunks)
    assert rebuild(events) == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_a", "name": "weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_b", "name": "time", "input": {"tz": "CET"}},
    ]
    assert events[0][1]["message"]["id"] == "msg_1"
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-2][1]["usage"]["input_tokens"] == 40
    assert events[-2][1]["usage"]["output_tokens"] == 30
