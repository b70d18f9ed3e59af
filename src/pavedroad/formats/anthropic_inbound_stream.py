"""Canonical `chat.completion.chunk` stream -> Anthropic SSE events.

Used when a caller on the Anthropic API asked for `stream: true`. Anthropic frames the
answer as numbered content blocks that open and close in order, so this tracks which
block is open and turns each OpenAI tool-call index into its own tool_use block.

Call `feed` per chunk, then `finish` once the upstream stream ended cleanly; if it broke,
send `error_event` instead. Lossy points: the same as the non-streaming translation
(stop_sequence is never reported; cache writes are unknown); message_start can only carry
`input_tokens_hint` because OpenAI reports usage in the last chunk, so the real counts
arrive in message_delta's usage.
"""

from __future__ import annotations

from typing import Any

from pavedroad.core.errors import UpstreamBadResponse
from pavedroad.formats.anthropic_inbound_response import anthropic_message_id
from pavedroad.formats.anthropic_mapping import anthropic_usage_from_openai, stop_reason

Event = tuple[str, dict[str, Any]]


class OpenAIToAnthropicStream:
    """Feed canonical chunks in order; emit the Anthropic events each one produces."""

    def __init__(self, *, model: str, input_tokens_hint: int = 0) -> None:
        self.model = model
        self.input_tokens_hint = input_tokens_hint
        self.id = "msg_unknown"
        self.started = False
        self.finished = False
        self._next_block = 0
        self._open: int | None = None  # Anthropic index of the open block, if any
        self._open_is_text = False
        self._tools: dict[int, int] = {}  # OpenAI tool_calls index -> Anthropic block index
        self._stop_reason: str | None = None
        self._usage: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        """Consume one canonical chunk; return the Anthropic events to send."""
        if self.finished:
            return []
        if not isinstance(chunk, dict):
            raise UpstreamBadResponse("stream chunk is not a JSON object")
        events = [] if self.started else [self._message_start(chunk)]
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                events.extend(self._choice(choice))
        return events

    def finish(self) -> list[Event]:
        """Close the message after a clean end of the upstream stream."""
        if self.finished:
            return []
        events = [] if self.started else [self._message_start({})]
        self.finished = True
        events.extend(self._close_open())
        usage: dict[str, Any] = {"output_tokens": 0}
        if self._usage is not None:
            usage = anthropic_usage_from_openai(self._usage)
        delta = {"stop_reason": self._stop_reason or "end_turn", "stop_sequence": None}
        events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def error_event(self, code: str, message: str) -> Event:
        """The event that reports a mid-stream failure to an Anthropic client."""
        self.finished = True
        error = {"type": "api_error", "message": message, "code": code}
        return ("error", {"type": "error", "error": error})

    # --- internals ----------------------------------------------------------------

    def _message_start(self, chunk: dict[str, Any]) -> Event:
        self.started = True
        self.id = anthropic_message_id(chunk.get("id"))
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.input_tokens_hint,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 0,
            },
        }
        return ("message_start", {"type": "message_start", "message": message})

    def _choice(self, choice: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        for key in ("content", "refusal"):
            text = delta.get(key)
            if isinstance(text, str) and text:
                events.extend(self._text(text))
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict):
                events.extend(self._tool(call))
        if choice.get("finish_reason") is not None:
            self._stop_reason = stop_reason(choice["finish_reason"])
        return events

    def _text(self, text: str) -> list[Event]:
        events: list[Event] = []
        if self._open is None or not self._open_is_text:
            events.extend(self._close_open())
            events.append(self._open_block({"type": "text", "text": ""}, is_text=True))
        delta = {"type": "text_delta", "text": text}
        events.append(_delta_event(self._current(), delta))
        return events

    def _tool(self, call: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        index = self._tool_index(call)
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        if index not in self._tools:
            events.extend(self._close_open())
            call_id = call.get("id")
            name = function.get("name")
            block = {
                "type": "tool_use",
                "id": call_id if isinstance(call_id, str) and call_id else f"toolu_{index}",
                "name": name if isinstance(name, str) else "",
                "input": {},
            }
            events.append(self._open_block(block, is_text=False))
            self._tools[index] = self._current()
        fragment = function.get("arguments")
        if isinstance(fragment, str) and fragment:
            if self._tools[index] != self._open:
                raise UpstreamBadResponse(
                    f"stream sent arguments for tool call {index} after a later block began"
                )
            delta = {"type": "input_json_delta", "partial_json": fragment}
            events.append(_delta_event(self._tools[index], delta))
        return events

    def _tool_index(self, call: dict[str, Any]) -> int:
        """OpenAI tool index; some compatible servers omit it, so infer it from `id`."""
        index = call.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            return index
        if call.get("id") or not self._tools:
            return len(self._tools)
        return max(self._tools)

    def _open_block(self, block: dict[str, Any], *, is_text: bool) -> Event:
        self._open = self._next_block
        self._open_is_text = is_text
        self._next_block += 1
        data = {"type": "content_block_start", "index": self._open, "content_block": block}
        return ("content_block_start", data)

    def _close_open(self) -> list[Event]:
        if self._open is None:
            return []
        index, self._open = self._open, None
        return [("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _current(self) -> int:
        if self._open is None:  # unreachable: callers open a block first
            raise RuntimeError("no content block is open")
        return self._open


def _delta_event(index: int, delta: dict[str, Any]) -> Event:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
