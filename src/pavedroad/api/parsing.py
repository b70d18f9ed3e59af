"""Read and validate request bodies: size, content type, JSON, then field types.

Validation uses msgspec structs that describe only the fields we rely on; the body is
kept as the caller's dict, so provider-specific fields pass through untouched.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
import orjson
from starlette.requests import Request

from pavedroad.core.errors import (
    InvalidJSON,
    InvalidRequest,
    RequestTooLarge,
    UnsupportedMediaType,
)


class _Message(msgspec.Struct):
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatBody(msgspec.Struct):
    model: str
    messages: list[_Message]
    stream: bool | None = None
    n: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    stream_options: dict[str, Any] | None = None
    user: str | None = None


class EmbeddingBody(msgspec.Struct):
    model: str
    # msgspec unions may hold only one array type; `validate_embedding` checks the items.
    input: str | list[Any]
    dimensions: int | None = None
    encoding_format: str | None = None


class MessagesBody(msgspec.Struct):
    model: str
    messages: list[dict[str, Any]]
    max_tokens: int
    stream: bool | None = None


T = TypeVar("T")
_EXPECTED = re.compile(r"Expected `([^`]+)`, got `([^`]+)`")

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


async def read_json(request: Request, *, limit: int) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType(
            f"send the body as JSON with `Content-Type: application/json` (got "
            f"{content_type or 'no content type'!r})")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise InvalidJSON("the request body is empty; send a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"the body is not valid JSON: {exc.msg} (at character {exc.pos})") \
            from None
    if not isinstance(data, dict):
        raise InvalidJSON("the body must be a JSON object")
    return data


def _param(path: str) -> str:
    return path.removeprefix("$.").removeprefix("$")


def validate(data: dict[str, Any], shape: type[T]) -> T:
    try:
        return msgspec.convert(data, shape, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        message, _, path = text.partition(" - at `")
        param = _param(path.rstrip("`")) if path else None
        if message.startswith("Object missing required field"):
            field = message.split("`")[1]
            param = f"{param}.{field}" if param else field
            raise InvalidRequest(f"`{param}` is required", param=param) from None
        expected = _EXPECTED.match(message)
        if expected and param:
            wanted = expected.group(1).replace(" | ", " or ")
            message = f"`{param}` must be {wanted}, got {expected.group(2)}"
        elif param:
            message = f"{message} at `{param}`"
        raise InvalidRequest(message, param=param) from None


def validate_chat(data: dict[str, Any]) -> ChatBody:
    # A registry `prompt` may supply the model and the leading messages (service/prompts.py).
    by_prompt = "prompt" in data
    body = validate({"model": "", "messages": [], **data} if by_prompt else data, ChatBody)
    if not body.messages and not by_prompt:
        raise InvalidRequest("`messages` must contain at least one message", param="messages")
    for i, message in enumerate(body.messages):
        if message.role not in _ROLES:
            raise InvalidRequest(
                f"`messages[{i}].role` must be one of system, developer, user, assistant, tool",
                param=f"messages[{i}].role")
    if body.n is not None and not 1 <= body.n <= 128:
        raise InvalidRequest("`n` must be between 1 and 128", param="n")
    for field in ("max_tokens", "max_completion_tokens"):
        value = getattr(body, field)
        if value is not None and value < 1:
            raise InvalidRequest(f"`{field}` must be at least 1", param=field)
    if body.response_format is not None and body.response_format.get("type") not in (
        "text", "json_object", "json_schema"
    ):
        raise InvalidRequest("`response_format.type` must be text, json_object or json_schema",
                             param="response_format.type")
    return body


def _token_ids(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(t, int) and not isinstance(t, bool) for t in value)


def validate_embedding(data: dict[str, Any]) -> EmbeddingBody:
    body = validate(data, EmbeddingBody)
    value = body.input
    if isinstance(value, list) and not (
        value and (all(isinstance(v, str) for v in value) or _token_ids(value)
                   or all(_token_ids(v) for v in value))
    ):
        raise InvalidRequest("`input` must be a string, an array of strings, an array of token "
                             "ids or an array of token-id arrays, and not empty", param="input")
    return body
