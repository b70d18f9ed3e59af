"""Token estimates for when a provider reports no usage, and for reserving before a call.

The estimator is deliberately simple and documented (docs/configuration.md): about four
characters of English text per token, as OpenAI's and Anthropic's tokenizers average, plus
a small fixed overhead per message. It is within tens of percent of a real tokenizer for
prose, needs no model-specific vocabulary, and costs microseconds. Rows priced from it say
`usage_source: estimated`, so nobody mistakes them for the provider's own figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4  # role and separators, per message
REPLY_PRIMING = 3  # every reply is primed with a few tokens
IMAGE_TOKENS = 85  # an image part at low detail; higher detail costs more


def tokens_for_chars(chars: int) -> int:
    """Characters of text -> tokens, rounded up."""
    return -(-chars // CHARS_PER_TOKEN) if chars > 0 else 0


def _content_chars(content: Any) -> tuple[int, int]:
    """(characters of text, tokens of images) in a message's content."""
    if isinstance(content, str):
        return len(content), 0
    if not isinstance(content, list):
        return 0, 0
    chars = images = 0
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            chars += len(part["text"])
        elif kind in ("image_url", "input_image", "image"):
            images += IMAGE_TOKENS
        else:
            chars += len(orjson.dumps(part))
    return chars, images


def _tool_call_chars(message: Mapping[str, Any]) -> int:
    calls = message.get("tool_calls")
    if not isinstance(calls, list):
        return 0
    total = 0
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            total += len(str(function.get("name") or "")) + len(str(function.get("arguments") or ""))
    return total


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Tokens of a canonical (OpenAI-format) request's messages and tool definitions."""
    messages = body.get("messages")
    tokens = REPLY_PRIMING
    if isinstance(messages, list):
        for message in messages:
            if not isinstance(message, dict):
                continue
            chars, images = _content_chars(message.get("content"))
            chars += _tool_call_chars(message)
            tokens += MESSAGE_OVERHEAD + tokens_for_chars(chars) + images
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        tokens += tokens_for_chars(len(orjson.dumps(tools)))
    return tokens


def answer_chars(body: Mapping[str, Any]) -> int:
    """Characters of answer text and tool calls in a complete `chat.completion`."""
    choices = body.get("choices")
    total = 0
    if isinstance(choices, list):
        for choice in choices:
            message = choice.get("message") if isinstance(choice, dict) else None
            if isinstance(message, dict):
                content = message.get("content")
                total += len(content) if isinstance(content, str) else 0
                total += _tool_call_chars(message)
    return total


def chunk_chars(chunk: Mapping[str, Any]) -> int:
    """Characters of answer text and tool-call fragments in one stream chunk."""
    choices = chunk.get("choices")
    if not choices:
        return 0
    total = 0
    for choice in choices:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict):
            content = delta.get("content")
            if isinstance(content, str):
                total += len(content)
            if delta.get("tool_calls"):
                total += _tool_call_chars(delta)
    return total
