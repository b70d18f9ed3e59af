"""Request validation: messages that say what to fix, with the parameter's path."""

from __future__ import annotations

from typing import Any

import pytest

from pavedroad.api.parsing import validate_chat
from pavedroad.core.errors import InvalidRequest


def chat(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def error_of(body: dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        validate_chat(body)
    return info.value


def test_valid_body_keeps_unknown_fields_out_of_the_way() -> None:
    parsed = validate_chat(chat(top_k=3, stream=True))
    assert parsed.model == "m" and parsed.stream is True


@pytest.mark.parametrize(("body", "param", "fragment"), [
    (chat(model=...), "model", "`model` is required"),
    (chat(messages=...), "messages", "`messages` is required"),
    (chat(messages="hi"), "messages", "`messages` must be array, got str"),
    (chat(messages=[]), "messages", "at least one message"),
    (chat(messages=[{"content": "x"}]), "messages[0].role", "`messages[0].role` is required"),
    (chat(messages=[{"role": "robot", "content": "x"}]), "messages[0].role", "must be one of"),
    (chat(temperature="hot"), "temperature", "`temperature` must be float or null, got str"),
    (chat(stream="yes"), "stream", "`stream` must be bool or null, got str"),
    (chat(n=0), "n", "between 1 and 128"),
    (chat(max_tokens=0), "max_tokens", "at least 1"),
    (chat(response_format={"type": "xml"}), "response_format.type", "json_schema"),
])
def test_bad_fields(body: dict[str, Any], param: str, fragment: str) -> None:
    error = error_of(body)
    assert error.param == param
    assert fragment in error.message
    assert error.http_status == 400
