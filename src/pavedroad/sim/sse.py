"""Server-sent-event frames and the driver that plays them with stream faults applied.

Formats build the full list of frames up front (the reply is already decided); this
module only decides timing and how the stream ends: normally, cut short cleanly
(truncate), or torn down mid-body (reset).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pavedroad.sim.faults import Fault

__all__ = ["Frame", "SimulatedReset", "aborted_body", "play"]


class SimulatedReset(Exception):
    """Raised inside a response body on purpose: uvicorn then drops the connection
    without the chunked terminator, which is how a real mid-stream reset looks."""


@dataclass(frozen=True, kw_only=True)
class Frame:
    data: bytes
    event: str | None = None
    # The frame whose arrival tells a client the stream completed ([DONE], message_stop).
    terminal: bool = False

    def encode(self, *, corrupt: bool = False) -> bytes:
        # Half of a JSON object is never valid JSON, which is the point.
        data = self.data[: len(self.data) // 2] if corrupt else self.data
        head = b"event: " + self.event.encode() + b"\n" if self.event else b""
        return head + b"data: " + data + b"\n\n"


async def play(frames: list[Frame], fault: Fault) -> AsyncIterator[bytes]:
    """Yield encoded frames with delays, corruption, truncation or a reset as asked."""
    end = _first_terminal(frames)
    stop = len(frames)
    if fault.truncate_after_chunks is not None:
        stop = min(stop, fault.truncate_after_chunks, end)
    reset_at: int | None = None
    if fault.reset_after_chunks is not None:
        reset_at = min(fault.reset_after_chunks, end)
        stop = min(stop, reset_at)
    corrupt_at = _corrupt_index(frames, end) if fault.malformed_json else -1
    if fault.first_token_ms:
        await asyncio.sleep(fault.first_token_ms / 1000)
    for i, frame in enumerate(frames[:stop]):
        if i and fault.chunk_delay_ms:
            await asyncio.sleep(fault.chunk_delay_ms / 1000)
        yield frame.encode(corrupt=i == corrupt_at)
    # A reset only fires if it, not an earlier clean truncation, is what ends the stream.
    if reset_at is not None and reset_at == stop:
        raise SimulatedReset(f"simulated connection reset after {stop} chunks")


async def aborted_body(body: bytes) -> AsyncIterator[bytes]:
    """A non-streaming body that dies halfway: headers sent, then the connection drops."""
    yield body[: len(body) // 2]
    raise SimulatedReset("simulated connection reset mid-body")


def _first_terminal(frames: list[Frame]) -> int:
    return next((i for i, f in enumerate(frames) if f.terminal), len(frames))


def _corrupt_index(frames: list[Frame], end: int) -> int:
    """The first content-bearing frame when there is one (index 1), else the first."""
    if end == 0:
        return -1
    return 1 if end > 1 else 0
