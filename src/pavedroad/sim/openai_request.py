"""Read an OpenAI chat-completions request into the neutral `Prompt`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from pavedroad.sim.decode import decode_body
from pavedroad.sim.errors import Reject
from pavedroad.sim.prompt import JsonMode, Prompt, ToolMode, ToolSpec

__all__ = ["OpenAIChat", "parse_chat"]

_Positive = Annotated[int, msgspec.Meta(ge=1)]


class _Function(msgspec.Struct, kw_only=True):
    name: str
    parameters: dict[str, Any] | None = None


class _Tool(msgspec.Struct, kw_only=True):
    type: str = "function"
    function: _Function


class _Message(msgspec.Struct, kw_only=True):
    role: str
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None


class _ChatRequest(msgspec.Struct, kw_only=True):
    model: str | None = None
    messages: list[_Message]
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    n: Annotated[int, msgspec.Meta(ge=1, le=128)] | None = 1
    max_tokens: _Positive | None = None
    max_completion_tokens: _Positive | None = None
    stop: str | list[str] | None = None
    tools: list[_Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class OpenAIChat:
    prompt: Prompt
    stream: bool
    include_usage: bool
    n: int


def parse_chat(body: bytes, *, deployment: str | None = None) -> OpenAIChat:
    """`deployment` (Azure routes) names the model; the body's `model` is then ignored."""
    req = decode_body(body, _ChatRequest)
    model = deployment or req.model
    if not model:
        raise Reject(400, "you must provide a model parameter")
    if not req.messages:
        raise Reject(400, "'messages' must contain at least one message")
    tools = [ToolSpec(name=t.function.name, schema=t.function.parameters or {}) for t in req.tools or []]
    mode, name = _tool_choice(req.tool_choice, tools)
    json_mode, schema = _response_format(req.response_format)
    stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
    prompt = Prompt(
        model=model,
        texts=[t for m in req.messages for t in _texts(m)],
        last_user_text=next((_content(m) for m in reversed(req.messages) if m.role == "user"), ""),
        tool_results=_tool_results(req.messages),
        tools=tools,
        tool_mode=mode,
        tool_name=name,
        parallel_tools=req.parallel_tool_calls is not False,
        max_tokens=req.max_completion_tokens or req.max_tokens,
        stop=stop,
        json_mode=json_mode,
        json_schema=schema,
    )
    include_usage = bool((req.stream_options or {}).get("include_usage"))
    return OpenAIChat(prompt=prompt, stream=bool(req.stream), include_usage=include_usage, n=req.n or 1)


def _content(message: _Message) -> str:
    if isinstance(message.content, str):
        return message.content
    parts = message.content or []
    return " ".join(p["text"] for p in parts if isinstance(p.get("text"), str))


def _texts(message: _Message) -> list[str]:
    texts = [_content(message)]
    for call in message.tool_calls or []:
        fn = call.get("function")
        if isinstance(fn, dict):
            texts.append(json.dumps(fn))
    return texts


def _tool_results(messages: list[_Message]) -> list[str] | None:
    """Contents of the trailing run of tool messages, or None if the turn is not one."""
    results: list[str] = []
    for message in reversed(messages):
        if message.role not in ("tool", "function"):
            break
        results.append(_content(message))
    return list(reversed(results)) if results else None


def _tool_choice(choice: str | dict[str, Any] | None, tools: list[ToolSpec]) -> tuple[ToolMode, str | None]:
    if choice is None or choice in ("auto", "required"):
        return ToolMode.AUTO, None
    if choice == "none":
        return ToolMode.NONE, None
    if isinstance(choice, dict) and choice.get("type") == "function":
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if not any(t.name == name for t in tools):
            raise Reject(400, f"tool_choice names function {name!r}, which is not in 'tools'")
        return ToolMode.NAMED, str(name)
    raise Reject(400, f"Invalid value for 'tool_choice': {choice!r}")


def _response_format(fmt: dict[str, Any] | None) -> tuple[JsonMode, dict[str, Any]]:
    kind = (fmt or {}).get("type", "text")
    if kind == "text":
        return JsonMode.OFF, {}
    if kind == "json_object":
        return JsonMode.OBJECT, {}
    if kind == "json_schema":
        spec = (fmt or {}).get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise Reject(400, "response_format.json_schema.schema must be a JSON object")
        return JsonMode.SCHEMA, schema
    raise Reject(400, f"Invalid response_format type: {kind!r}")
