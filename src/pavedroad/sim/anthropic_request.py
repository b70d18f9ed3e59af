"""Read an Anthropic Messages API request into the neutral `Prompt`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from pavedroad.sim.decode import decode_body
from pavedroad.sim.errors import Reject
from pavedroad.sim.prompt import Prompt, ToolMode, ToolSpec

__all__ = ["AnthropicChat", "parse_messages"]

_Blocks = list[dict[str, Any]]


class _Tool(msgspec.Struct, kw_only=True):
    name: str
    # Server tools (web search, ...) have no schema; they are still callable by name.
    input_schema: dict[str, Any] | None = None


class _Message(msgspec.Struct, kw_only=True):
    role: str
    content: str | _Blocks


class _MessagesRequest(msgspec.Struct, kw_only=True):
    model: str
    messages: list[_Message]
    max_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    system: str | _Blocks | None = None
    stream: bool | None = False
    stop_sequences: list[str] | None = None
    tools: list[_Tool] | None = None
    tool_choice: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class AnthropicChat:
    prompt: Prompt
    stream: bool


def parse_messages(body: bytes) -> AnthropicChat:
    req = decode_body(body, _MessagesRequest)
    if req.max_tokens is None:
        raise Reject(400, "max_tokens: Field required")
    if not req.messages:
        raise Reject(400, "messages: at least one message is required")
    tools = [ToolSpec(name=t.name, schema=t.input_schema or {}) for t in req.tools or []]
    mode, name, parallel = _tool_choice(req.tool_choice, tools)
    last = req.messages[-1]
    results = _tool_results(last) if last.role == "user" else []
    texts = [_system_text(req.system)] + [t for m in req.messages for t in _texts(m)]
    prompt = Prompt(
        model=req.model,
        texts=texts,
        last_user_text=next((_text(m.content) for m in reversed(req.messages) if m.role == "user"), ""),
        tool_results=results or None,
        tools=tools,
        tool_mode=mode,
        tool_name=name,
        parallel_tools=parallel,
        max_tokens=req.max_tokens,
        stop=list(req.stop_sequences or []),
    )
    return AnthropicChat(prompt=prompt, stream=bool(req.stream))


def _text(content: str | _Blocks | Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return " ".join(
        b["text"]
        for b in content
        if isinstance(b, dict) and b.get("type", "text") == "text" and isinstance(b.get("text"), str)
    )


def _system_text(system: str | _Blocks | None) -> str:
    return _text(system) if system is not None else ""


def _texts(message: _Message) -> list[str]:
    if isinstance(message.content, str):
        return [message.content]
    texts = [_text(message.content)]
    for block in message.content:
        if block.get("type") == "tool_use":
            texts.append(json.dumps(block.get("input", {})))
        elif block.get("type") == "tool_result":
            texts.append(_text(block.get("content", "")))
    return texts


def _tool_results(message: _Message) -> list[str]:
    if isinstance(message.content, str):
        return []
    return [_text(b.get("content", "")) for b in message.content if b.get("type") == "tool_result"]


def _tool_choice(choice: dict[str, Any] | None, tools: list[ToolSpec]) -> tuple[ToolMode, str | None, bool]:
    if choice is None:
        return ToolMode.AUTO, None, True
    parallel = not choice.get("disable_parallel_tool_use", False)
    kind = choice.get("type")
    if kind in ("auto", "any"):
        return ToolMode.AUTO, None, parallel
    if kind == "none":
        return ToolMode.NONE, None, parallel
    if kind == "tool":
        name = choice.get("name")
        if not any(t.name == name for t in tools):
            raise Reject(400, f"tool_choice.name {name!r} does not match any tool in 'tools'")
        return ToolMode.NAMED, str(name), parallel
    raise Reject(400, f"tool_choice.type: invalid value {kind!r}")
