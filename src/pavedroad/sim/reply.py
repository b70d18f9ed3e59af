"""Decide what the simulated model answers: text or tool calls, and where it stops."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pavedroad.sim.prompt import Finish, JsonMode, Prompt, ToolMode, ToolSpec
from pavedroad.sim.schema_example import example_for
from pavedroad.sim.text import count_tokens, count_tokens_in, cut_at_token, preview

__all__ = ["Reply", "ToolCall", "compose"]


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    name: str
    arguments: str  # JSON text, exactly as it goes on the wire


@dataclass(frozen=True, kw_only=True)
class Reply:
    text: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: Finish = Finish.END
    stop_sequence: str | None = None
    prompt_tokens: int = 1
    completion_tokens: int = 1


def compose(prompt: Prompt, *, content: str | None = None) -> Reply:
    """The deterministic reply; `content` (from a fault) replaces the generated text."""
    prompt_tokens = count_tokens_in(prompt.texts)
    calls = _tool_calls(prompt)
    if calls:
        used = count_tokens_in(f"{c.name} {c.arguments}" for c in calls)
        return Reply(
            text=None,
            tool_calls=calls,
            finish=Finish.TOOL_CALLS,
            prompt_tokens=prompt_tokens,
            completion_tokens=used,
        )
    text = content if content is not None else _text(prompt)
    text, finish, stop_sequence = _limit(text, prompt)
    return Reply(
        text=text,
        finish=finish,
        stop_sequence=stop_sequence,
        prompt_tokens=prompt_tokens,
        completion_tokens=count_tokens(text),
    )


def _text(prompt: Prompt) -> str:
    if prompt.tool_results is not None:
        return "Tool results received: " + preview(" ".join(prompt.tool_results))
    reply = f"Simulated reply from {prompt.model}: {preview(prompt.last_user_text)}"
    if prompt.json_mode is JsonMode.OBJECT:
        return json.dumps({"reply": reply})
    if prompt.json_mode is JsonMode.SCHEMA:
        return json.dumps(example_for(prompt.json_schema))
    return reply


def _limit(text: str, prompt: Prompt) -> tuple[str, Finish, str | None]:
    """Apply stop sequences and max_tokens, whichever would end generation first."""
    stop_at: int | None = None
    stop_seq: str | None = None
    for seq in prompt.stop:
        pos = text.find(seq) if seq else -1
        if pos >= 0 and (stop_at is None or pos < stop_at):
            stop_at, stop_seq = pos, seq
    cut = cut_at_token(text, prompt.max_tokens) if prompt.max_tokens else None
    if stop_at is not None and (cut is None or stop_at < len(cut)):
        return text[:stop_at], Finish.STOP_SEQUENCE, stop_seq
    if cut is not None:
        return cut, Finish.LENGTH, None
    return text, Finish.END, None


def _tool_calls(prompt: Prompt) -> list[ToolCall]:
    if not prompt.tools or prompt.tool_mode is ToolMode.NONE or prompt.tool_results is not None:
        return []
    chosen = _choose_tools(prompt)
    if not prompt.parallel_tools:
        chosen = chosen[:1]
    return [ToolCall(name=t.name, arguments=json.dumps(example_for(t.schema))) for t in chosen]


def _choose_tools(prompt: Prompt) -> list[ToolSpec]:
    if prompt.tool_mode is ToolMode.NAMED:
        return [t for t in prompt.tools if t.name == prompt.tool_name][:1]
    mentioned = [t for t in prompt.tools if _mentions(prompt.last_user_text, t.name)]
    return mentioned or prompt.tools[:1]


def _mentions(text: str, name: str) -> bool:
    # Whole-name match, so a tool called "get" is not triggered by "get_weather".
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None
