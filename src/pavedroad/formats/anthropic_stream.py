"""Anthropic Messages SSE events -> canonical `chat.completion.chunk` dicts.

Used when an Anthropic deployment streams an answer to a canonical request. One
instance per stream: Anthropic addresses content by block index and reports usage at
both ends, so translation needs state (which block is which tool call, counters so far).

Lossy points: thinking / signature / citation deltas and server-tool blocks are dropped;
`stop_sequence` collapses into finish_reason "stop".
"""

from __future__ import annotations

import time
from typing import Any

from pavedroad.core.errors import UpstreamBadResponse, UpstreamStreamBroken
from pavedroad.formats._json import dumps_compact
from pavedroad.formats.anthropic_mapping import finish_reason, openai_usage

_USAGE_KEYS = (
    "input_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "output_tokens",
)


class AnthropicToOpenAIStream:
    """Feed Anthropic events in order; emit the OpenAI chunks each one produces."""

    def __init__(self, *, model: str, include_usage: bool, created: int | None = None) -> None:
        self.model = model
        self.include_usage = include_usage
        self.created = int(time.time()) if created is None else created
        self.id = "msg_unknown"
        self.finished = False
        self._started = False
        self._finish_sent = False
        # Anthropic block index -> OpenAI tool_calls index, or None for a text block.
        # Blocks we ignore (thinking, server tools) are absent from both maps.
        self._blocks: dict[int, int | None] = {}
        self._ignored: set[int] = set()
        self._next_tool = 0
        self._counts: dict[str, int] | None = None

    @property
    def usage(self) -> dict[str, Any] | None:
        """OpenAI-style usage accumulated so far; None before message_start."""
        if self._counts is None:
            return None
        return openai_usage(
            input_tokens=self._counts["input_tokens"],
            cache_read=self._counts["cache_read_input_tokens"],
            cache_creation=self._counts["cache_creation_input_tokens"],
            output_tokens=self._counts["output_tokens"],
        )

    def feed(self, event: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Consume one SSE event (`event:` name and parsed `data:`); return chunks to send."""
        if event == "error":
            raise UpstreamStreamBroken(_error_message(data), upstream_error_type=_error_type(data))
        if self.finished or event == "ping":
            return []
        if not isinstance(data, dict):
            raise UpstreamBadResponse(f"Anthropic {event} event data is not an object")
        if event == "message_start":
            return self._message_start(data)
        if not self._started and event in _HANDLERS:
            raise UpstreamBadResponse(f"Anthropic stream sent {event} before message_start")
        handler = _HANDLERS.get(event)
        # Anthropic may add event types; unknown ones are skipped, as its docs ask.
        return handler(self, data) if handler else []

    # --- event handlers -----------------------------------------------------------

    def _message_start(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        if self._started:
            return []
        self._started = True
        message = data.get("message")
        message = message if isinstance(message, dict) else {}
        if isinstance(message.get("id"), str) and message["id"]:
            self.id = message["id"]
        self._counts = dict.fromkeys(_USAGE_KEYS, 0)
        self._update_usage(message.get("usage"))
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        index = _index(data)
        block = data.get("content_block")
        if not isinstance(block, dict):
            raise UpstreamBadResponse("Anthropic content_block_start has no content_block")
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = None
            text = block.get("text")
            return [self._chunk({"content": text})] if isinstance(text, str) and text else []
        if kind == "tool_use":
            tool_index = self._next_tool
            self._next_tool += 1
            self._blocks[index] = tool_index
            tool_input = block.get("input")
            call = {
                "index": tool_index,
                "id": str(block.get("id") or f"toolu_{self.id}_{tool_index}"),
                "type": "function",
                "function": {
                    "name": str(block.get("name") or ""),
                    # Deltas carry the arguments; a pre-filled input (proxies) goes here.
                    "arguments": dumps_compact(tool_input) if tool_input else "",
                },
            }
            return [self._chunk({"tool_calls": [call]})]
        self._ignored.add(index)
        return []

    def _block_delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        index = _index(data)
        if index in self._ignored:
            return []
        if index not in self._blocks:
            raise UpstreamBadResponse(f"Anthropic delta for content block {index} never started")
        delta = data.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        tool_index = self._blocks[index]
        kind = delta.get("type")
        if kind == "text_delta" and tool_index is None:
            text = delta.get("text")
            return [self._chunk({"content": text})] if isinstance(text, str) and text else []
        if kind == "input_json_delta" and tool_index is not None:
            fragment = delta.get("partial_json")
            if not isinstance(fragment, str) or not fragment:
                return []
            call = {"index": tool_index, "function": {"arguments": fragment}}
            return [self._chunk({"tool_calls": [call]})]
        return []  # thinking_delta, signature_delta, citations_delta: no OpenAI form

    def _block_stop(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def _message_delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        self._update_usage(data.get("usage"))
        delta = data.get("delta")
        reason = delta.get("stop_reason") if isinstance(delta, dict) else None
        if reason is None or self._finish_sent:
            return []
        self._finish_sent = True
        return [self._chunk({}, finish=finish_reason(reason))]

    def _message_stop(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        self.finished = True
        chunks: list[dict[str, Any]] = []
        if not self._finish_sent:
            self._finish_sent = True
            chunks.append(self._chunk({}, finish="stop"))
        if self.include_usage:
            chunks.append(self._envelope(choices=[], usage=self.usage))
        return chunks

    # --- helpers --------------------------------------------------------------------

    def _update_usage(self, usage: Any) -> None:
        """Anthropic counters are cumulative: later values replace earlier ones."""
        if self._counts is None or not isinstance(usage, dict):
            return
        for key in _USAGE_KEYS:
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                self._counts[key] = value

    def _chunk(self, delta: dict[str, Any], *, finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return self._envelope(choices=[choice], usage=None)

    def _envelope(self, *, choices: list[dict[str, Any]], usage: Any) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = usage  # OpenAI sends null on every chunk but the last
        return chunk


_HANDLERS = {
    "content_block_start": AnthropicToOpenAIStream._block_start,
    "content_block_delta": AnthropicToOpenAIStream._block_delta,
    "content_block_stop": AnthropicToOpenAIStream._block_stop,
    "message_delta": AnthropicToOpenAIStream._message_delta,
    "message_stop": AnthropicToOpenAIStream._message_stop,
}


def _index(data: dict[str, Any]) -> int:
    index = data.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise UpstreamBadResponse("Anthropic content block event has no integer index")
    return index


def _error_message(data: Any) -> str:
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return f"Anthropic stream failed mid-way: {message or 'unknown error'}"


def _error_type(data: Any) -> str:
    error = data.get("error") if isinstance(data, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else "api_error"
