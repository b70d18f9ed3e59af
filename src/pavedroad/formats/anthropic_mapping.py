"""The shared vocabulary between the two wire formats: stop reasons and token usage.

Kept in one place so the non-streaming and streaming translators can never disagree
about what `max_tokens` or a cache read means in the other format.
"""

from __future__ import annotations

from typing import Any

# Anthropic stop_reason -> OpenAI finish_reason. `pause_turn` (a server tool paused a
# long turn) has no OpenAI counterpart; the turn did end, so it reads as "stop".
FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# OpenAI finish_reason -> Anthropic stop_reason. OpenAI does not say whether "stop" was
# a natural end or a stop sequence, so it always becomes end_turn (lossy).
STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def finish_reason(stop_reason: Any) -> str:
    """Anthropic stop_reason -> OpenAI finish_reason; unknown values read as a normal stop."""
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def stop_reason(finish: Any) -> str:
    """OpenAI finish_reason -> Anthropic stop_reason; unknown values read as end_turn."""
    return STOP_REASONS.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"


def _count(usage: dict[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def openai_usage(
    *, input_tokens: int, cache_read: int, cache_creation: int, output_tokens: int
) -> dict[str, Any]:
    """OpenAI usage from Anthropic counters.

    Anthropic's input_tokens excludes cached tokens; OpenAI's prompt_tokens includes
    them, so all three input counters add up to prompt_tokens. OpenAI has no field for
    cache writes (which Anthropic bills at a premium); they go in
    `prompt_tokens_details.cache_write_tokens`, as OpenRouter reports them, when there are any.
    """
    prompt = input_tokens + cache_read + cache_creation
    details: dict[str, int] = {"cached_tokens": cache_read}
    if cache_creation:
        details["cache_write_tokens"] = cache_creation
    return {
        "prompt_tokens": prompt,
        "completion_tokens": output_tokens,
        "total_tokens": prompt + output_tokens,
        "prompt_tokens_details": details,
    }


def openai_usage_from_anthropic(usage: Any) -> dict[str, Any]:
    """An Anthropic `usage` object (possibly missing fields) as OpenAI usage."""
    usage = usage if isinstance(usage, dict) else {}
    return openai_usage(
        input_tokens=_count(usage, "input_tokens"),
        cache_read=_count(usage, "cache_read_input_tokens"),
        cache_creation=_count(usage, "cache_creation_input_tokens"),
        output_tokens=_count(usage, "output_tokens"),
    )


def cached_tokens(usage: dict[str, Any]) -> int:
    """OpenAI `prompt_tokens_details.cached_tokens`, 0 when absent."""
    details = usage.get("prompt_tokens_details")
    return _count(details, "cached_tokens") if isinstance(details, dict) else 0


def anthropic_usage_from_openai(usage: Any) -> dict[str, int]:
    """OpenAI usage as Anthropic usage: cached prompt tokens move to cache_read.

    OpenAI itself reports no cache writes (cache_creation_input_tokens is 0); usage that
    came from an Anthropic-format upstream carries them in `cache_write_tokens`.
    """
    usage = usage if isinstance(usage, dict) else {}
    cached = cached_tokens(usage)
    details = usage.get("prompt_tokens_details")
    written = _count(details, "cache_write_tokens") if isinstance(details, dict) else 0
    return {
        "input_tokens": max(0, _count(usage, "prompt_tokens") - cached - written),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
        "output_tokens": _count(usage, "completion_tokens"),
    }
