"""Canonical `chat.completion` -> Anthropic message, for callers on the Anthropic API.

The input is what a deployment produced (already canonical), so malformed shapes raise
UpstreamBadResponse.

Lossy points: only choice 0 is used; finish_reason "stop" always becomes `end_turn`
(OpenAI does not say whether a stop sequence fired, so `stop_sequence` stays null);
tool-call arguments that are not a JSON object become `{}`; OpenAI reports no cache
writes, so cache_creation_input_tokens is 0 unless an Anthropic-format upstream reported
them; a refusal becomes a text block.
"""

from __future__ import annotations

from typing import Any

from pavedroad.core.errors import UpstreamBadResponse
from pavedroad.formats._json import loads_object
from pavedroad.formats.anthropic_mapping import anthropic_usage_from_openai, stop_reason


def anthropic_message_id(openai_id: Any) -> str:
    """Anthropic ids start with `msg_`; keep the canonical id recognisable inside it."""
    text = openai_id if isinstance(openai_id, str) and openai_id else "unknown"
    return text if text.startswith("msg_") else f"msg_{text}"


def openai_to_anthropic_response(body: dict[str, Any], *, model: str) -> dict[str, Any]:
    """Translate a chat.completion; `model` is the name the caller asked for."""
    if not isinstance(body, dict):
        raise UpstreamBadResponse("chat completion is not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamBadResponse("chat completion has no choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise UpstreamBadResponse("chat completion choice 0 has no message")

    content = [{"type": "text", "text": text} for text in _texts(message) if text]
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise UpstreamBadResponse("chat completion tool_calls is not an array")
    content.extend(_tool_use(call, k) for k, call in enumerate(calls))
    return {
        "id": anthropic_message_id(body.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": anthropic_usage_from_openai(body.get("usage")),
    }


def _texts(message: dict[str, Any]) -> list[str]:
    """Message text: a string, or text parts (some servers send parts), or a refusal."""
    content = message.get("content")
    texts: list[str] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        texts.extend(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    refusal = message.get("refusal")
    if isinstance(refusal, str):
        texts.append(refusal)
    return texts


def _tool_use(call: Any, k: int) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise UpstreamBadResponse(f"chat completion tool_calls[{k}] has no function name")
    arguments = function.get("arguments")
    parsed = loads_object(arguments) if isinstance(arguments, str) else None
    call_id = call.get("id")
    return {
        "type": "tool_use",
        "id": call_id if isinstance(call_id, str) and call_id else f"toolu_{k}",
        "name": function["name"],
        "input": parsed if parsed is not None else {},
    }
