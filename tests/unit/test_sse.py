"""SSE parsing of upstream byte lines."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pavedroad.providers.sse import SSEvent, parse_events


async def lines(*items: bytes) -> AsyncIterator[bytes]:
    for item in items:
        yield item


async def collect(*items: bytes) -> list[SSEvent]:
    return [e async for e in parse_events(lines(*items))]


async def test_events_with_names_multiline_data_and_comments() -> None:
    events = await collect(b": keep-alive\n", b"event: message_start\n", b"data: {\"a\":1}\n",
                           b"\n", b"data: line1\r\n", b"data: line2\n", b"\n", b"data: [DONE]\n",
                           b"\n")
    assert events == [SSEvent("message_start", '{"a":1}'), SSEvent("message", "line1\nline2"),
                      SSEvent("message", "[DONE]")]


async def test_trailing_event_without_blank_line_is_kept() -> None:
    assert await collect(b"data: x\n") == [SSEvent("message", "x")]


async def test_data_without_space_after_colon() -> None:
    assert await collect(b"data:{}\n", b"\n") == [SSEvent("message", "{}")]
