"""Unit-test fixtures: `backend` runs a contract test once per shared-state backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.backends import Backend, redis_connection


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """The in-process stores, then the Redis ones (a real server, a fresh key prefix)."""
    if request.param == "memory":
        yield Backend("memory")
        return
    server = request.getfixturevalue("redis_server")
    connection = redis_connection(server.url)
    try:
        yield Backend("redis", connection=connection)
    finally:
        await connection.aclose()


@pytest.fixture
async def redis_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """The Redis stores only, for what the in-process ones do not have (leases, outages)."""
    server = request.getfixturevalue("redis_server")
    connection = redis_connection(server.url)
    try:
        yield Backend("redis", connection=connection)
    finally:
        await connection.aclose()
