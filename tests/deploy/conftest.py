"""Fixtures of the production tests: a PostgreSQL and a Redis server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.servers import Postgres, postgres_server, redis_server


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url
