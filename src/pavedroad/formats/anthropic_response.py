"""Anthropic Messages response -> canonical `chat.completion`.

Used when an Anthropic deployment answered a canonical request. The input is upstream
output, so malformed shapes raise UpstreamBadResponse (routing may try elsewhere),
never InvalidRequest.

Lossy points: `thinking` / `redacted_thinking` blocks and blocks of server-side tools
(web search results, ...) are dropped; text blocks are concatenated without separator
(they are consecutive spans of one answer); citations are dropped; `stop_sequence`
collapses into finish_reason "stop".
"""

from __future__ import annotations

import time
from typing import Any

from pavedroad.core.errors import UpstreamBadResponse
from pavedroad.formats._json import dumps_compact
from pavedroad.formats.anthropic_mapping import finish_reason, openai_usage_from_anthropic


def anthropic_to_openai_response(
    body: dict[str, Any], *, model: str, created: int | None = None
) -> dict[str, Any]:
    """Translate an Anthropic message; `model` is the name the caller asked for."""
    if not isinstance(body, dict):
        raise UpstreamBadResponse("Anthropic response is not a JSON object")
    if body.get("type") == "error":
        raise UpstreamBadResponse(f"Anthropic returned an error body: {_error_text(body)}")
    content = body.get("content")
    if not isinstance(content, list):
        raise UpstreamBadResponse("Anthropic response has no `content` array")

    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        if not isinstance(block, dict):
            raise UpstreamBadResponse(f"Anthropic response content[{i}] is not an object")
        kind = block.get("type")
        if kind == "text":
            texts.append(_field(block, "text", str, i))
        elif kind == "tool_use":
            tool_calls.append(_tool_call(block, i))
        # thinking, redacted_thinking and server-tool blocks have no OpenAI equivalent.

    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not tool_calls else None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": str(body.get("id") or "msg_unknown"),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason(body.get("stop_reason")),
                "logprobs": None,
            }
        ],
        "usage": openai_usage_from_anthropic(body.get("usage")),
    }


def _tool_call(block: dict[str, Any], i: int) -> dict[str, Any]:
    tool_input = block.get("input", {})
    if not isinstance(tool_input, dict):
        raise UpstreamBadResponse(f"Anthropic response content[{i}].input is not an object")
    return {
        "id": _field(block, "id", str, i),
        "type": "function",
        "function": {"name": _field(block, "name", str, i), "arguments": dumps_compact(tool_input)},
    }


def _field(block: dict[str, Any], key: str, kind: type, i: int) -> Any:
    value = block.get(key)
    if not isinstance(value, kind):
        raise UpstreamBadResponse(
            f"Anthropic response content[{i}].{key} is missing or not a {kind.__name__}"
        )
    return value


def _error_text(body: dict[str, Any]) -> str:
    error = body.get("error")
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('message', '')}"
    return "unknown error"
