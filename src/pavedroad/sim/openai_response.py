"""Render a `Reply` as an OpenAI chat completion: one JSON body or a chunk stream."""

from __future__ import annotations

import time
from typing import Any

import orjson

from pavedroad.sim.openai_request import OpenAIChat
from pavedroad.sim.prompt import Finish
from pavedroad.sim.reply import Reply, ToolCall
from pavedroad.sim.sse import Frame
from pavedroad.sim.state import SimState
from pavedroad.sim.text import fragments, word_chunks

__all__ = ["completion_body", "completion_frames"]

_FINISH = {
    Finish.END: "stop",
    Finish.STOP_SEQUENCE: "stop",
    Finish.LENGTH: "length",
    Finish.TOOL_CALLS: "tool_calls",
}


def completion_body(chat: OpenAIChat, reply: Reply, state: SimState, *, cached: int,
                    omit_usage: bool = False) -> dict[str, Any]:
    choices = []
    for i in range(chat.n):
        message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for call_id, c in zip(_call_ids(reply, state), reply.tool_calls, strict=True)
            ]
        choices.append(
            {
                "index": i,
                "message": message,
                "logprobs": None,
                "finish_reason": _FINISH[reply.finish],
            }
        )
    body = {**_envelope(chat, state, "chat.completion"), "choices": choices}
    if not omit_usage:
        body["usage"] = _usage(reply, chat.n, cached)
    return body


def completion_frames(chat: OpenAIChat, reply: Reply, state: SimState, *, cached: int,
                      omit_usage: bool = False) -> list[Frame]:
    base = _envelope(chat, state, "chat.completion.chunk")
    include_usage = chat.include_usage and not omit_usage
    if include_usage:
        base["usage"] = None  # real chunks carry an explicit null until the usage chunk

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> Frame:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return Frame(data=orjson.dumps({**base, "choices": [choice]}))

    frames: list[Frame] = []
    for i in range(chat.n):
        first = "" if reply.text is not None else None
        frames.append(chunk(i, {"role": "assistant", "content": first, "refusal": None}))
        frames.extend(chunk(i, {"content": piece}) for piece in word_chunks(reply.text or ""))
        call_ids = _call_ids(reply, state)
        for k, (call_id, call) in enumerate(zip(call_ids, reply.tool_calls, strict=True)):
            frames.extend(chunk(i, delta) for delta in _tool_call_deltas(k, call_id, call))
        frames.append(chunk(i, {}, _FINISH[reply.finish]))
    if include_usage:
        usage = {**base, "choices": [], "usage": _usage(reply, chat.n, cached)}
        frames.append(Frame(data=orjson.dumps(usage)))
    frames.append(Frame(data=b"[DONE]", terminal=True))
    return frames


def _tool_call_deltas(index: int, call_id: str, call: ToolCall) -> list[dict[str, Any]]:
    """Name first with empty arguments, then the arguments in pieces, as OpenAI streams."""
    opening = {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }
    pieces = [{"index": index, "function": {"arguments": part}} for part in fragments(call.arguments)]
    return [{"tool_calls": [opening]}] + [{"tool_calls": [piece]} for piece in pieces]


def _envelope(chat: OpenAIChat, state: SimState, kind: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-sim{state.next_id('chatcmpl')}",
        "object": kind,
        "created": int(time.time()),
        "model": chat.prompt.model,
        "system_fingerprint": "sim",
        "service_tier": "default",
    }


def _call_ids(reply: Reply, state: SimState) -> list[str]:
    return [f"call_{state.next_id('call')}" for _ in reply.tool_calls]


def _usage(reply: Reply, n: int, cached: int) -> dict[str, Any]:
    # prompt_tokens always includes the cached part, as OpenAI reports it.
    prompt = max(reply.prompt_tokens, cached)
    completion = reply.completion_tokens * n
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
