"""Stored answers round-trip through stream synthesis and stream capture."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from pavedroad.cache.replay import (
    PIECE_CHARS,
    StreamAssembler,
    cacheable_answer,
    replay_chunks,
)
from pavedroad.core.types import Usage
from pavedroad.formats import OpenAIToAnthropicStream
from pavedroad.sim.openai_request import parse_chat
from pavedroad.sim.openai_response import completion_body, completion_frames
from pavedroad.sim.reply import compose
from pavedroad.sim.state import SimState

USAGE = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
LONG = "A long answer, " * 20


def body(*messages: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000,
        "model": "up-gpt", "system_fingerprint": "fp",
        "choices": [{"index": i, "message": m, "logprobs": None, "finish_reason": finish}
                    for i, m in enumerate(messages)],
        "usage": USAGE,
    }


TEXT = body({"role": "assistant", "content": LONG, "refusal": None})
TOOLS = body({"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_1", "type": "function",
     "function": {"name": "get_weather", "arguments": json.dumps({"city": "x" * 120})}},
    {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
]}, finish="tool_calls")
REFUSAL = body({"role": "assistant", "content": None, "refusal": "I can't help with that."})
TWO = body({"role": "assistant", "content": "first"}, {"role": "assistant", "content": "second"})


def assemble(chunks: list[dict[str, Any]], usage: Usage | None = None) -> dict[str, Any]:
    assembler = StreamAssembler()
    for chunk in chunks:
        assembler.feed(orjson.loads(orjson.dumps(chunk)))  # what the wire would carry
    return assembler.body(usage=usage)


@pytest.mark.parametrize("stored", [TEXT, TOOLS, REFUSAL, TWO], ids=["text", "tools", "refusal", "n2"])
def test_a_replayed_stream_assembles_back_to_the_stored_answer(stored: dict[str, Any]) -> None:
    chunks = list(replay_chunks(stored, include_usage=True))
    assert assemble(chunks) == stored
    without_usage = list(replay_chunks(stored, include_usage=False))
    assert all("usage" not in c for c in without_usage)
    assert assemble(without_usage) == {k: v for k, v in stored.items() if k != "usage"}


def test_replayed_chunks_have_the_live_shape() -> None:
    chunks = list(replay_chunks(TEXT, include_usage=True))
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == "chatcmpl-1" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "",
                                                "refusal": None}
    pieces = [c["choices"][0]["delta"]["content"] for c in chunks[1:-2]]
    assert "".join(pieces) == LONG and max(map(len, pieces)) <= PIECE_CHARS and len(pieces) > 1
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                        "finish_reason": "stop"}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == USAGE
    assert all(c["usage"] is None for c in chunks[:-1])  # explicit nulls, as OpenAI sends


def test_tool_calls_replay_name_first_then_arguments_in_pieces() -> None:
    deltas = [c["choices"][0]["delta"] for c in replay_chunks(TOOLS, include_usage=False)]
    opening = deltas[1]["tool_calls"][0]
    assert opening == {"index": 0, "id": "call_1", "type": "function",
                       "function": {"name": "get_weather", "arguments": ""}}
    first_args = [d["tool_calls"][0]["function"]["arguments"] for d in deltas
                  if d.get("tool_calls") and d["tool_calls"][0]["index"] == 0][1:]
    assert len(first_args) > 1
    assert json.loads("".join(first_args)) == {"city": "x" * 120}


def test_a_live_simulator_stream_assembles_to_its_complete_body() -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "call get_time please"}],
               "tools": [{"type": "function", "function": {
                   "name": "get_time", "parameters": {"type": "object", "properties": {
                       "tz": {"type": "string"}}}}}],
               "stream_options": {"include_usage": True}, "stream": True}
    chat = parse_chat(orjson.dumps(request))
    reply = compose(chat.prompt)
    frames = completion_frames(chat, reply, SimState(), cached=0)
    chunks = [orjson.loads(f.data) for f in frames if not f.terminal]
    expected = completion_body(chat, reply, SimState(), cached=0)
    assembled = assemble(chunks)
    assembled["created"] = expected["created"]
    assert assembled == expected


def test_usage_from_the_exchange_stands_in_when_no_usage_chunk_passed() -> None:
    chunks = list(replay_chunks(TEXT, include_usage=False))
    assembled = assemble(chunks, usage=Usage(prompt_tokens=7, completion_tokens=5,
                                             cached_tokens=3))
    assert assembled["usage"] == {"prompt_tokens": 7, "completion_tokens": 5,
                                  "total_tokens": 12,
                                  "prompt_tokens_details": {"cached_tokens": 3}}


def test_the_anthropic_translation_of_a_replay_matches_the_stored_answer() -> None:
    translator = OpenAIToAnthropicStream(model="claude")
    events = [e for c in replay_chunks(TOOLS, include_usage=True) for e in translator.feed(c)]
    events += translator.finish()
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert [(b["id"], b["name"]) for b in starts] == [("call_1", "get_weather"),
                                                      ("call_2", "get_time")]
    delta = next(d for n, d in events if n == "message_delta")
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"]["output_tokens"] == 5


FINISH = frozenset({"stop", "tool_calls"})


@pytest.mark.parametrize(("answer", "ok"), [
    (TEXT, True), (TOOLS, True), (TWO, True),
    (body({"role": "assistant", "content": "cut"}, finish="length"), False),
    (body({"role": "assistant", "content": "x"}, finish="content_filter"), False),
    ({**TEXT, "choices": []}, False),
    ({**TEXT, "choices": [{"index": 0, "message": {"content": "x"}, "finish_reason": None}]},
     False),
    (None, False),
])
def test_only_complete_answers_are_cacheable(answer: Any, ok: bool) -> None:
    assert cacheable_answer(answer, FINISH) is ok
