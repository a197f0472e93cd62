from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from flow_engine.storage.base import Storage
from flow_engine.storage.memory import memory_storage
from flow_engine.storage.redis import redis_storage
from tests.support.redis_server import RedisServer

PARTITIONS = 8


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


@pytest.fixture(params=["memory", "redis"])
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[Storage]:
    """Each storage contract test runs on both backends."""
    if request.param == "memory":
        st = memory_storage()
    else:
        url = request.getfixturevalue("redis_url")
        st = redis_storage(url, partitions=PARTITIONS)
    yield st
    await st.close()
