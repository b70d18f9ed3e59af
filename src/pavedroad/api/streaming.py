"""A streaming response that always settles its exchange, however the connection ends.

Starlette runs a response's background task only when streaming finished without an
error, and never starts the body iterator when the caller left first; either way the
relay behind it would hold its upstream connection, breaker probe and concurrency slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class SettlingStreamingResponse(StreamingResponse):
    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        settle: Callable[[], Awaitable[None]],
        headers: dict[str, str],
    ) -> None:
        super().__init__(content, media_type="text/event-stream",
                         headers={**headers, **SSE_HEADERS})
        self._settle = settle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Shielded: a cancelled connection task must not cut the settlement short.
            await asyncio.shield(self._settle())
