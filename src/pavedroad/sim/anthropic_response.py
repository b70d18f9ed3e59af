"""Render a `Reply` as an Anthropic message: one JSON body or the real event sequence."""

from __future__ import annotations

import json
from typing import Any

import orjson

from pavedroad.sim.anthropic_request import AnthropicChat
from pavedroad.sim.prompt import Finish
from pavedroad.sim.reply import Reply
from pavedroad.sim.sse import Frame
from pavedroad.sim.state import SimState
from pavedroad.sim.text import fragments, word_chunks

__all__ = ["message_body", "message_frames"]

_STOP_REASON = {
    Finish.END: "end_turn",
    Finish.STOP_SEQUENCE: "stop_sequence",
    Finish.LENGTH: "max_tokens",
    Finish.TOOL_CALLS: "tool_use",
}


def message_body(chat: AnthropicChat, reply: Reply, state: SimState, *, cached: int,
                 written: int = 0) -> dict[str, Any]:
    return {
        **_envelope(chat, state),
        "content": _blocks(reply, state),
        "stop_reason": _STOP_REASON[reply.finish],
        "stop_sequence": reply.stop_sequence,
        "usage": _usage(reply, cached, written, output=reply.completion_tokens),
    }


def message_frames(chat: AnthropicChat, reply: Reply, state: SimState, *, cached: int,
                   written: int = 0) -> list[Frame]:
    start = {
        **_envelope(chat, state),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        # Like the real API: output so far is a token, the final count comes in message_delta.
        "usage": _usage(reply, cached, written, output=1),
    }
    frames = [_event("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(_blocks(reply, state)):
        opening, *rest = _block_events(index, block)
        frames.append(opening)
        if index == 0:
            frames.append(_event("ping", {"type": "ping"}))
        frames.extend(rest)
    delta = {"stop_reason": _STOP_REASON[reply.finish], "stop_sequence": reply.stop_sequence}
    usage = {"output_tokens": reply.completion_tokens}
    frames.append(_event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
    frames.append(_event("message_stop", {"type": "message_stop"}, terminal=True))
    return frames


def _block_events(index: int, block: dict[str, Any]) -> list[Frame]:
    """start, deltas, stop; the ping is slotted in by the caller after the first start."""
    opening: dict[str, Any]
    if block["type"] == "text":
        opening = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in word_chunks(block["text"])]
    else:
        opening = {**block, "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": part}
            for part in fragments(json.dumps(block["input"]))
        ]
    events = [
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": opening},
        )
    ]
    events.extend(
        _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
        for d in deltas
    )
    events.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def _blocks(reply: Reply, state: SimState) -> list[dict[str, Any]]:
    if not reply.tool_calls:
        return [{"type": "text", "text": reply.text or ""}]
    return [
        {
            "type": "tool_use",
            "id": f"toolu_{state.next_id('toolu')}",
            "name": call.name,
            "input": json.loads(call.arguments),
        }
        for call in reply.tool_calls
    ]


def _envelope(chat: AnthropicChat, state: SimState) -> dict[str, Any]:
    return {
        "id": f"msg_sim{state.next_id('msg')}",
        "type": "message",
        "role": "assistant",
        "model": chat.prompt.model,
    }


def _usage(reply: Reply, cached: int, written: int, *, output: int) -> dict[str, Any]:
    # Anthropic's input_tokens excludes cache reads and writes; the three add up to the
    # whole prompt.
    return {
        "input_tokens": max(reply.prompt_tokens - cached - written, 0),
        "output_tokens": output,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
    }


def _event(name: str, payload: dict[str, Any], *, terminal: bool = False) -> Frame:
    return Frame(event=name, data=orjson.dumps(payload), terminal=terminal)
