"""Server-sent events: parse an upstream's byte lines, and encode our own events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(slots=True)
class SSEvent:
    event: str
    data: str


async def parse_events(lines: AsyncIterator[bytes]) -> AsyncIterator[SSEvent]:
    """Group `event:`/`data:` lines into events; a blank line ends an event."""
    event = ""
    data: list[str] = []
    async for raw in lines:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield SSEvent(event or "message", "\n".join(data))
            event, data = "", []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("event:"):
            event = line[6:].strip()
        # `id:`, `retry:` and `:` comments carry nothing we use.
    if data:
        yield SSEvent(event or "message", "\n".join(data))


def encode(data: bytes, *, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + data + b"\n\n"
