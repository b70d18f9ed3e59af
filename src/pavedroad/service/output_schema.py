"""Output validation for `response_format: json_schema`, with one bounded repair.

An answer that is not JSON or does not match the schema is sent back once, with the
validation errors, for the model to correct; a second failure is `output_invalid`. Runs
just outside the upstream call, so the repair costs one more call and nothing else
(limits and budgets were reserved once; usage of both calls is counted).

A streamed answer cannot be repaired: its text has already reached the caller. It is checked
when the stream ends, and an invalid one ends with a terminal `output_invalid` error event
instead of a clean finish, so the caller knows not to trust what it received.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from pavedroad.core.errors import InvalidRequest, OutputInvalid
from pavedroad.core.types import ChatResponse, Usage
from pavedroad.service.pipeline import ChatResult, ChatStream, Exchange, Next, StreamFailure, StreamItem

MAX_ERRORS = 5
_CACHE_LIMIT = 256


class OutputSchema:
    def __init__(self) -> None:
        self._validators: dict[str, Draft202012Validator] = {}

    def _validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                raise InvalidRequest(f"response_format.json_schema.schema is not a valid JSON "
                                     f"Schema: {exc.message}",
                                     param="response_format") from None
            if len(self._validators) >= _CACHE_LIMIT:
                self._validators.clear()
            validator = self._validators[key] = Draft202012Validator(schema)
        return validator

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        schema = requested_schema(exchange.request.body)
        if schema is None:
            return await call_next(exchange)
        validator = self._validator(schema)
        first = await call_next(exchange)
        if isinstance(first, ChatStream):
            return ChatStream(first.exchange, checked_stream(first.items, validator, exchange))
        answer, errors = check(first, validator)
        if not errors:
            return first
        used = exchange.usage
        body = exchange.request.body
        exchange.request.body = {**body, "messages": [
            *body.get("messages", []),
            {"role": "assistant", "content": answer},
            {"role": "user", "content": repair_prompt(errors)},
        ]}
        try:
            second = await call_next(exchange)
        finally:
            exchange.request.body = body
        exchange.usage = _add(used, exchange.usage)
        if isinstance(second, ChatStream):
            return second
        _, errors = check(second, validator)
        if errors:
            exchange.tags.setdefault("output", "invalid")
            raise OutputInvalid("the model's answer does not match the requested JSON schema "
                                "after one repair attempt", errors=errors)
        return second


def requested_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    spec = fmt.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    return schema if isinstance(schema, dict) else None


async def checked_stream(items: AsyncGenerator[StreamItem, None], validator: Draft202012Validator,
                         exchange: Exchange) -> AsyncGenerator[StreamItem, None]:
    """Pass the stream through; at its end, validate the first choice's whole text."""
    parts: list[str] = []
    async with contextlib.aclosing(items):
        async for item in items:
            yield item
            if isinstance(item, StreamFailure):
                return  # already broken: nothing complete to validate
            for choice in item.get("choices") or ():
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if isinstance(delta, dict) and int(choice.get("index") or 0) == 0:
                    content = delta.get("content")
                    if isinstance(content, str):
                        parts.append(content)
    errors = check_text("".join(parts) if parts else None, validator)
    if errors:
        exchange.tags.setdefault("output", "invalid")
        yield StreamFailure(OutputInvalid(
            "the streamed answer does not match the requested JSON schema (streams cannot be "
            "repaired; do not trust the text received)", errors=errors))


def check(response: ChatResponse, validator: Draft202012Validator) -> tuple[str, list[str]]:
    """(the answer text, what is wrong with it); no errors: it matches."""
    choices = response.body.get("choices") or []
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    text = message.get("content") if isinstance(message, dict) else None
    return (text if isinstance(text, str) else ""), check_text(text, validator)


def check_text(text: Any, validator: Draft202012Validator) -> list[str]:
    """What is wrong with `text` as a JSON document of the schema; empty: it matches."""
    if not isinstance(text, str):
        return ["the answer has no text content"]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
    errors = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        errors.append(f"{where}: {error.message}")
        if len(errors) == MAX_ERRORS:
            break
    return errors


def repair_prompt(errors: list[str]) -> str:
    return ("Your previous answer does not match the required JSON schema:\n- "
            + "\n- ".join(errors)
            + "\nReply again with only the corrected JSON document, nothing else.")


def _add(a: Usage | None, b: Usage | None) -> Usage | None:
    if a is None or b is None:
        return b or a
    return Usage(a.prompt_tokens + b.prompt_tokens, a.completion_tokens + b.completion_tokens,
                 a.cached_tokens + b.cached_tokens, a.cache_write_tokens + b.cache_write_tokens)
