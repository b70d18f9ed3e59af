"""The small HTTP interface adapters call, and its aiohttp implementation.

Keeping the client behind this boundary means it can be swapped (STACK.md measured
Rust-backed clients faster) without touching an adapter. Foreign exceptions become
`core.errors` classes here and nowhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from pavedroad.core.errors import (
    UpstreamConnectionError,
    UpstreamError,
    UpstreamStreamBroken,
    UpstreamTimeout,
)
from pavedroad.core.types import Timeouts


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class UpstreamStream(Protocol):
    status: int
    headers: Mapping[str, str]

    def lines(self) -> AsyncIterator[bytes]: ...

    async def read(self) -> bytes: ...

    def close(self) -> None: ...


class Transport(Protocol):
    async def post(
        self, url: str, *, headers: Mapping[str, str], body: bytes, timeouts: Timeouts
    ) -> UpstreamResponse: ...

    async def open_stream(
        self, url: str, *, headers: Mapping[str, str], body: bytes, timeouts: Timeouts
    ) -> UpstreamStream: ...

    async def aclose(self) -> None: ...


def translate(exc: BaseException, url: str, *, streaming: bool = False) -> UpstreamError:
    """Map an aiohttp or socket failure to our error family."""
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return UpstreamTimeout(f"upstream timed out ({url})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamConnectionError(f"cannot connect to upstream ({url})")
    if streaming:
        return UpstreamStreamBroken(f"upstream stream broke: {type(exc).__name__} ({url})")
    return UpstreamConnectionError(f"upstream connection failed: {type(exc).__name__} ({url})")


_FAILURES = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


class _AiohttpStream:
    def __init__(self, response: aiohttp.ClientResponse, url: str) -> None:
        self._response = response
        self._url = url
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def lines(self) -> AsyncIterator[bytes]:
        try:
            async for line in self._response.content:
                yield line
        except _FAILURES as exc:
            raise translate(exc, self._url, streaming=True) from exc

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except _FAILURES as exc:
            raise translate(exc, self._url, streaming=True) from exc

    def close(self) -> None:
        self._response.close()


class AiohttpTransport:
    """One pooled session for every upstream; connections are kept alive."""

    def __init__(self, *, limit: int = 1000) -> None:
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",)
            )
        return self._session

    @staticmethod
    def _timeout(timeouts: Timeouts, *, streaming: bool) -> aiohttp.ClientTimeout:
        # A stream's overall deadline is enforced by the router; here only connect.
        return aiohttp.ClientTimeout(
            total=None if streaming else timeouts.total, sock_connect=timeouts.connect
        )

    async def post(
        self, url: str, *, headers: Mapping[str, str], body: bytes, timeouts: Timeouts
    ) -> UpstreamResponse:
        try:
            async with self._client().post(
                url, data=body, headers=headers, timeout=self._timeout(timeouts, streaming=False)
            ) as response:
                payload = await response.read()
                return UpstreamResponse(response.status, response.headers, payload)
        except _FAILURES as exc:
            raise translate(exc, url) from exc

    async def open_stream(
        self, url: str, *, headers: Mapping[str, str], body: bytes, timeouts: Timeouts
    ) -> UpstreamStream:
        try:
            response = await self._client().post(
                url, data=body, headers=headers, timeout=self._timeout(timeouts, streaming=True)
            )
        except _FAILURES as exc:
            raise translate(exc, url) from exc
        return _AiohttpStream(response, url)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
