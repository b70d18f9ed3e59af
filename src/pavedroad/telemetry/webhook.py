"""Deliver alert changes to a webhook, in the background, with bounded retries.

A slow or failing receiver must never hold up alert evaluation, let alone a request:
`send` only queues; one task posts in order and drops the oldest message when the
queue is full (counted in `pavedroad_alert_notifications_total{outcome="dropped"}`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
import orjson
from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger("pavedroad.alerts")


class WebhookNotifier:
    def __init__(self, url: str, headers: dict[str, str] | None = None, *,
                 attempts: int = 3, timeout: float = 5.0, backoff: float = 0.5,
                 queue_size: int = 1000, registry: CollectorRegistry | None = None) -> None:
        self._url = url
        self._headers = {"content-type": "application/json", **(headers or {})}
        self._attempts = attempts
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._backoff = backoff
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.sent = Counter("pavedroad_alert_notifications", "Alert webhook deliveries by "
                            "outcome (sent, failed, dropped).", ["outcome"], registry=registry)

    def send(self, alert: dict[str, Any]) -> None:
        message = {"status": alert["state"], "alert": alert}
        if self._queue.full():
            self._queue.get_nowait()
            self.sent.labels("dropped").inc()
        self._queue.put_nowait(message)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._deliver())

    async def _deliver(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        while not self._queue.empty():
            message = self._queue.get_nowait()
            body = orjson.dumps(message)
            for attempt in range(self._attempts):
                try:
                    async with self._session.post(self._url, data=body,
                                                  headers=self._headers) as response:
                        if response.status < 300:
                            self.sent.labels("sent").inc()
                            break
                        reason = f"HTTP {response.status}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    reason = type(exc).__name__
                if attempt + 1 < self._attempts:
                    await asyncio.sleep(self._backoff * 2 ** attempt)
            else:
                self.sent.labels("failed").inc()
                log.warning("alert webhook %s failed after %d attempts: %s", self._url,
                            self._attempts, reason)

    async def drain(self) -> None:
        """Wait for what is queued (tests and shutdown)."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def aclose(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.drain(), timeout=5)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._session is not None:
            await self._session.close()
