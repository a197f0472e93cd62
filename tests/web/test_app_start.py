"""A start that fails midway releases what it opened (one cleanup context per resource)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from flow_engine.storage.keys import KeyBuilder
from flow_engine.web.app import create_app
from flow_engine.web.state import PARTITIONS, SKILL_HTTP, STORAGE
from tests.conftest import engine_settings, write_demo_config


@pytest.fixture
async def probe(redis_url: str) -> AsyncIterator[Redis]:
    r = Redis.from_url(redis_url)
    yield r
    await r.aclose()


async def connections(r: Redis) -> int:
    """Clients connected to the redis-server, this probe left out."""
    me = await r.client_id()
    return sum(1 for c in await r.client_list() if int(c["id"]) != me)


async def test_store_failing_at_start_closes_what_opened(
    redis_url: str, probe: Redis, tmp_path: Path
) -> None:
    # a real failure inside the store: the process registry is a string, so the first
    # heartbeat of the partition manager gets WRONGTYPE, after the configs were seeded
    await probe.set(KeyBuilder().processes(), "not a sorted set")
    settings = engine_settings("http://127.0.0.1:9", write_demo_config(tmp_path), redis_url)
    app = create_app(settings)
    before = await connections(probe)
    runner = web.AppRunner(app)
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await runner.setup()
    assert await app[STORAGE].configs.numbers() == ["100000000000001"]  # it got that far
    await runner.cleanup()

    assert await connections(probe) == before, "the store's connections were closed"
    assert app[PARTITIONS]._task is None and not app[PARTITIONS].workers
    session = app[SKILL_HTTP]._session
    assert session is None or session.closed
