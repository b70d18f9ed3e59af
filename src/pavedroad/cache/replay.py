"""Cached answers are stored whole and replayed in either shape.

`StreamAssembler` rebuilds a `chat.completion` body from a live stream's chunks as they
pass; `replay_chunks` turns a stored body back into the chunk sequence a live OpenAI
stream sends (role, content in pieces, tool-call deltas, finish, then usage only when
asked), which the Anthropic route translates like any other stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pavedroad.core.types import ChatChunk, Usage

PIECE_CHARS = 48  # replayed text per chunk: word-sized pieces cost a chunk each for nothing
_ENVELOPE = ("id", "created", "model", "system_fingerprint", "service_tier")


def cacheable_answer(body: Any, finish_reasons: frozenset[str]) -> bool:
    """A complete answer: every choice is a message that ended for an accepted reason."""
    if not isinstance(body, dict):
        return False
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        return False
    return all(
        isinstance(c, dict) and isinstance(c.get("message"), dict)
        and c.get("finish_reason") in finish_reasons
        for c in choices
    )


def _pieces(text: str) -> list[str]:
    return [text[i : i + PIECE_CHARS] for i in range(0, len(text), PIECE_CHARS)]


def replay_chunks(body: dict[str, Any], *, include_usage: bool) -> Iterator[ChatChunk]:
    """The chunks of a live stream that would have produced `body`."""
    base: dict[str, Any] = {k: body[k] for k in _ENVELOPE if k in body}
    base["object"] = "chat.completion.chunk"
    if include_usage:
        base["usage"] = None  # OpenAI sends an explicit null until the usage chunk

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> ChatChunk:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**base, "choices": [choice]}

    for position, choice in enumerate(body.get("choices") or []):
        index = choice.get("index", position)
        message = choice.get("message") or {}
        content = message.get("content")
        first: dict[str, Any] = {"role": message.get("role") or "assistant",
                                 "content": "" if isinstance(content, str) else None}
        if "refusal" in message:
            first["refusal"] = None
        yield chunk(index, first)
        if isinstance(content, str):
            for piece in _pieces(content):
                yield chunk(index, {"content": piece})
        refusal = message.get("refusal")
        if isinstance(refusal, str):
            for piece in _pieces(refusal):
                yield chunk(index, {"refusal": piece})
        for k, call in enumerate(message.get("tool_calls") or []):
            yield from (chunk(index, delta) for delta in _tool_call_deltas(k, call))
        yield chunk(index, {}, choice.get("finish_reason"))
    if include_usage:
        yield {**base, "choices": [], "usage": body.get("usage")}


def _tool_call_deltas(index: int, call: dict[str, Any]) -> Iterator[dict[str, Any]]:
    function = call.get("function") or {}
    yield {"tool_calls": [{"index": index, "id": call.get("id"), "type": call.get("type"),
                           "function": {"name": function.get("name"), "arguments": ""}}]}
    for piece in _pieces(function.get("arguments") or ""):
        yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}


@dataclass(slots=True)
class _Call:
    id: str | None = None
    type: str = "function"
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Choice:
    role: str = "assistant"
    content: list[str] | None = None
    refusal: list[str] | None = None
    saw_refusal: bool = False
    calls: dict[int, _Call] = field(default_factory=dict)
    finish_reason: str | None = None


class StreamAssembler:
    """Feed every chunk of a stream in order; `body()` is the equivalent complete answer."""

    def __init__(self) -> None:
        self._envelope: dict[str, Any] = {}
        self._choices: dict[int, _Choice] = {}
        self._usage: dict[str, Any] | None = None

    def feed(self, chunk: ChatChunk) -> None:
        if not self._envelope:
            self._envelope = {k: chunk[k] for k in _ENVELOPE if k in chunk}
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
        for raw in chunk.get("choices") or ():
            if not isinstance(raw, dict):
                continue
            choice = self._choices.setdefault(int(raw.get("index") or 0), _Choice())
            delta = raw.get("delta")
            if isinstance(delta, dict):
                _apply(choice, delta)
            if raw.get("finish_reason") is not None:
                choice.finish_reason = raw["finish_reason"]

    def body(self, *, usage: Usage | None = None) -> dict[str, Any]:
        """The answer as `chat.completion`; `usage` stands in when no usage chunk passed
        (the caller did not ask for one, so the relay kept it back)."""
        choices = [
            {"index": index, "message": _message(choice), "logprobs": None,
             "finish_reason": choice.finish_reason}
            for index, choice in sorted(self._choices.items())
        ]
        body = {**self._envelope, "object": "chat.completion", "choices": choices}
        reported = self._usage if self._usage is not None else _usage_dict(usage)
        if reported is not None:
            body["usage"] = reported
        return body


def _apply(choice: _Choice, delta: dict[str, Any]) -> None:
    if isinstance(delta.get("role"), str):
        choice.role = delta["role"]
    content = delta.get("content")
    if isinstance(content, str):
        if choice.content is None:
            choice.content = []
        choice.content.append(content)
    if "refusal" in delta:
        choice.saw_refusal = True
        if isinstance(delta["refusal"], str):
            if choice.refusal is None:
                choice.refusal = []
            choice.refusal.append(delta["refusal"])
    for raw in delta.get("tool_calls") or ():
        if not isinstance(raw, dict):
            continue
        call = choice.calls.setdefault(int(raw.get("index") or 0), _Call())
        if raw.get("id"):
            call.id = raw["id"]
        if raw.get("type"):
            call.type = raw["type"]
        function = raw.get("function")
        if isinstance(function, dict):
            if function.get("name"):
                call.name += function["name"]
            if isinstance(function.get("arguments"), str):
                call.arguments.append(function["arguments"])


def _message(choice: _Choice) -> dict[str, Any]:
    content = "".join(choice.content) if choice.content is not None else None
    if choice.calls and not content:
        content = None  # a tool-call answer carries null content, as a complete body does
    message: dict[str, Any] = {"role": choice.role, "content": content}
    if choice.saw_refusal:
        message["refusal"] = "".join(choice.refusal) if choice.refusal is not None else None
    if choice.calls:
        message["tool_calls"] = [
            {"id": call.id, "type": call.type,
             "function": {"name": call.name, "arguments": "".join(call.arguments)}}
            for _, call in sorted(choice.calls.items())
        ]
    return message


def _usage_dict(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    out: dict[str, Any] = {"prompt_tokens": usage.prompt_tokens,
                           "completion_tokens": usage.completion_tokens,
                           "total_tokens": usage.total_tokens}
    if usage.cached_tokens:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    return out
