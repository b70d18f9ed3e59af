"""Work a request leaves behind (settling limits and budgets), run off the response path.

Finalizers are synchronous; what they must await (a shared store) runs here as a task that
is held until it finishes, logged if it fails, and waited for when the gateway stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("pavedroad.service")
DRAIN_SECONDS = 5.0
Spawn = Callable[[Coroutine[Any, Any, None]], None]  # what stages get: `Background.spawn`


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background settlement failed", exc_info=task.exception())

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for what is running (at shutdown), at most a few seconds."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=DRAIN_SECONDS)
