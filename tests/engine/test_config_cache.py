"""The per-process configuration cache: one store read per number while it is told of every
commit, the next read after any process's commit, and never a stale document kept."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flow_engine.engine.config_cache import ConfigCache
from flow_engine.storage.base import Storage
from flow_engine.storage.memory import memory_storage
from flow_engine.storage.redis import redis_storage
from tests.admin.conftest import number_config
from tests.conftest import PARTITIONS, STORES, store_url
from tests.support.tasks import cancel_until_done

NUMBER = "100000000000101"


def counting_reads(storage: Storage) -> list[str]:
    """Record every ``get_raw`` of ``storage``'s configurations."""
    reads: list[str] = []
    original = storage.configs.get_raw

    async def get_raw(number: str) -> str | None:
        reads.append(number)
        return await original(number)

    storage.configs.get_raw = get_raw  # type: ignore[method-assign]
    return reads


@pytest.fixture(params=STORES)
async def two_processes(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Storage, Storage]]:
    if request.param == "memory":
        st = memory_storage()
        yield st, st
        await st.close()
        return
    url = store_url(request, request.param)
    a, b = (redis_storage(url, partitions=PARTITIONS) for _ in range(2))
    await a.connect()
    await b.connect()
    yield a, b
    await a.close()
    await b.close()


async def following(cache: ConfigCache) -> asyncio.Task[None]:
    task = asyncio.create_task(cache.follow())
    deadline = time.monotonic() + 5
    while not cache.live:
        assert time.monotonic() < deadline, "the cache never went live"
        await asyncio.sleep(0.01)
    return task


async def name_becomes(cache: ConfigCache, name: str, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while True:
        config = await cache.get(NUMBER)
        if config is not None and config.name == name:
            return
        assert time.monotonic() < deadline, f"still {config and config.name!r}"
        await asyncio.sleep(0.01)


async def test_one_read_per_number_until_another_process_commits(
    two_processes: tuple[Storage, Storage],
) -> None:
    mine, other = two_processes
    await other.configs.put(NUMBER, number_config(NUMBER, name="v1"))
    reads = counting_reads(mine)
    cache = ConfigCache(mine.configs)
    task = await following(cache)
    try:
        for _ in range(20):
            config = await cache.get(NUMBER)
            assert config is not None and config.name == "v1"
        assert await cache.get("100000000000999") is None
        assert await cache.get("100000000000999") is None  # an unknown number is kept too
        assert reads == [NUMBER, "100000000000999"]

        await other.configs.put(NUMBER, number_config(NUMBER, name="v2"))
        await name_becomes(cache, "v2")
        settled = len(reads)
        for _ in range(20):
            assert (await cache.get(NUMBER)).name == "v2"  # type: ignore[union-attr]
        assert len(reads) == settled
    finally:
        await cancel_until_done(task)
    assert not cache.live


async def test_without_the_telling_every_get_reads_the_store() -> None:
    storage = memory_storage()
    await storage.configs.put(NUMBER, number_config(NUMBER, name="v1"))
    reads = counting_reads(storage)
    cache = ConfigCache(storage.configs)  # follow() never started
    for _ in range(3):
        assert (await cache.get(NUMBER)).name == "v1"  # type: ignore[union-attr]
    await storage.configs.put(NUMBER, number_config(NUMBER, name="v2"))
    assert (await cache.get(NUMBER)).name == "v2"  # type: ignore[union-attr]
    assert len(reads) == 4


async def test_a_read_overtaken_by_a_commit_is_not_kept() -> None:
    storage = memory_storage()
    await storage.configs.put(NUMBER, number_config(NUMBER, name="v1"))
    cache = ConfigCache(storage.configs)
    task = await following(cache)
    original = storage.configs.get_raw
    read_done, release = asyncio.Event(), asyncio.Event()

    async def slow_get_raw(number: str) -> Any:
        raw = await original(number)  # read v1 ...
        read_done.set()
        await release.wait()  # ... and answer only after v2 was committed and told
        return raw

    storage.configs.get_raw = slow_get_raw  # type: ignore[method-assign]
    try:
        reader = asyncio.create_task(cache.get(NUMBER))
        await read_done.wait()
        await storage.configs.put(NUMBER, number_config(NUMBER, name="v2"))
        release.set()
        assert (await reader).name == "v1"  # type: ignore[union-attr]
        storage.configs.get_raw = original  # type: ignore[method-assign]
        assert (await cache.get(NUMBER)).name == "v2"  # type: ignore[union-attr]
    finally:
        await cancel_until_done(task)


async def test_a_gap_in_the_telling_drops_everything() -> None:
    storage = memory_storage()
    await storage.configs.put(NUMBER, number_config(NUMBER, name="v1"))
    cache = ConfigCache(storage.configs)
    cache.resync(storage.backend.config_generation)
    assert (await cache.get(NUMBER)).name == "v1"  # type: ignore[union-attr]
    # commits 2 and 3 happened; only 3 is told (and it names another number)
    await storage.configs.put(NUMBER, number_config(NUMBER, name="v2"))
    cache.changed(cache.generation + 2, ["100000000000555"])
    assert (await cache.get(NUMBER)).name == "v2"  # type: ignore[union-attr]
    cache.lost()
    await storage.configs.put(NUMBER, number_config(NUMBER, name="v3"))
    assert (await cache.get(NUMBER)).name == "v3"  # type: ignore[union-attr]
