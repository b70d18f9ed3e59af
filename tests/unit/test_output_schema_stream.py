"""Streamed `json_schema` answers are validated when the stream ends (no repair is possible)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from pavedroad.core.errors import OutputInvalid
from pavedroad.core.types import Caller, ChatRequest
from pavedroad.service.output_schema import OutputSchema
from pavedroad.service.pipeline import ChatResult, ChatStream, Exchange, StreamFailure, StreamItem

FORMAT = {"type": "json_schema", "json_schema": {"name": "n", "schema": {
    "type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}}


def _exchange() -> Exchange:
    body = {"model": "m", "stream": True, "response_format": FORMAT,
            "messages": [{"role": "user", "content": "a number"}]}
    request = ChatRequest(model="m", body=body, request_id="req_1",
                          caller=Caller(key_id="k", name="k", models=None))
    return Exchange(request, "chat")


def _chunk(text: str | None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if text is None else {"content": text}
    return {"object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


async def _run(pieces: list[str], *, broken: bool = False) -> tuple[list[StreamItem], Exchange, int]:
    calls = 0

    async def items() -> AsyncGenerator[StreamItem, None]:
        for piece in pieces:
            yield _chunk(piece)
        if broken:
            yield StreamFailure(OutputInvalid("upstream broke"))
            return
        yield _chunk(None, "stop")

    async def upstream(exchange: Exchange) -> ChatResult:
        nonlocal calls
        calls += 1
        return ChatStream(exchange, items())

    ex = _exchange()
    result = await OutputSchema()(ex, upstream)
    assert isinstance(result, ChatStream)
    return [item async for item in result.items], ex, calls


async def test_a_valid_stream_passes_through_unchanged() -> None:
    out, ex, calls = await _run(['{"n"', ': 7}'])
    assert out == [_chunk('{"n"'), _chunk(": 7}"), _chunk(None, "stop")]
    assert calls == 1
    assert "output" not in ex.tags


async def test_an_invalid_stream_ends_with_output_invalid_and_no_repair() -> None:
    out, ex, calls = await _run(['{"n": ', '"seven"}'])
    assert out[:3] == [_chunk('{"n": '), _chunk('"seven"}'), _chunk(None, "stop")]
    failure = out[-1]
    assert isinstance(failure, StreamFailure)
    assert failure.error.code == "output_invalid"
    assert isinstance(failure.error, OutputInvalid)
    assert "streams cannot be repaired" in str(failure.error)
    assert calls == 1  # the text already reached the caller: no second call
    assert ex.tags["output"] == "invalid"


async def test_text_that_is_not_json_fails_at_the_end() -> None:
    out, _, _ = await _run(["sure! here", " you go"])
    assert isinstance(out[-1], StreamFailure)
    assert len(out) == 4


async def test_a_stream_that_already_failed_gets_no_second_error() -> None:
    out, _, _ = await _run(['{"n": '], broken=True)
    failures = [item for item in out if isinstance(item, StreamFailure)]
    assert len(failures) == 1
    assert str(failures[0].error) == "upstream broke"
