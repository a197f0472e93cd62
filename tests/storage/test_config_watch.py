"""Configuration commits are told to every process's watcher, in order, and a gap in the
telling (a dropped subscription, a reset store) is never silent. On memory, Redis and a
Redis Cluster."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from flow_engine.storage.base import Storage
from flow_engine.storage.configs import new_change
from flow_engine.storage.memory import memory_storage
from flow_engine.storage.redis import redis_storage
from flow_engine.storage.redis_configs import POLL_S
from tests.conftest import PARTITIONS, SHARED_STORES, STORES, store_url
from tests.support.tasks import cancel_until_done


class Recorder:
    """A ConfigListener that keeps what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.changed_event = asyncio.Event()

    def resync(self, generation: int) -> None:
        self.events.append(("resync", generation))
        self.changed_event.set()

    def changed(self, generation: int, numbers: list[str]) -> None:
        self.events.append(("changed", generation, sorted(numbers)))
        self.changed_event.set()

    def lost(self) -> None:
        self.events.append(("lost",))
        self.changed_event.set()

    async def wait_for(
        self, event: tuple[Any, ...], within: float = 5.0, *, since: int = 0
    ) -> None:
        """Wait until ``event`` is told (among the events from index ``since`` on)."""
        deadline = time.monotonic() + within
        while event not in self.events[since:]:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never told {event}: {self.events}"
            self.changed_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed_event.wait(), remaining)


@pytest.fixture(params=STORES)
async def two_processes(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Storage, Storage]]:
    """Two processes' storages on one backend (memory: one process, one storage)."""
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


async def watching(storage: Storage, recorder: Recorder) -> asyncio.Task[None]:
    task = asyncio.create_task(storage.configs.watch(recorder))
    await recorder.wait_for(("resync", 0))
    return task


async def test_every_commit_of_another_process_is_told_with_its_numbers(
    two_processes: tuple[Storage, Storage],
) -> None:
    watcher, writer = two_processes
    recorder = Recorder()
    task = await watching(watcher, recorder)
    try:
        await writer.configs.put("100", {"name": "a"})
        await recorder.wait_for(("changed", 1, ["100"]))
        changes = [
            new_change(
                await writer.configs.head(n),
                n,
                {"name": n},
                author="a",
                summary="s",
                source="bulk",
            )
            for n in ("100", "200")
        ]
        await writer.configs.commit(changes)  # one commit of two numbers: one generation
        await recorder.wait_for(("changed", 2, ["100", "200"]))
        assert recorder.events == [
            ("resync", 0),
            ("changed", 1, ["100"]),
            ("changed", 2, ["100", "200"]),
        ]
    finally:
        await cancel_until_done(task)
    assert recorder.events[-1] == ("lost",)  # a stopped watcher tells nothing any more


async def kill_subscribers(url: str, ports: list[int]) -> int:
    """Kill the pub/sub connections on every node: what a network blip does."""
    killed = 0
    for port in ports:
        r = Redis(host="127.0.0.1", port=port)
        try:
            killed += int(await r.client_kill_filter(_type="pubsub"))
        finally:
            await r.aclose()
    return killed


def node_ports(request: pytest.FixtureRequest, store: str) -> list[int]:
    if store == "redis":
        return [request.getfixturevalue("redis_server").port]
    return list(request.getfixturevalue("redis_cluster").ports)


@pytest.mark.parametrize("store", SHARED_STORES)
async def test_a_dropped_subscription_is_lost_then_resynced_with_what_it_missed(
    request: pytest.FixtureRequest, store: str
) -> None:
    url = store_url(request, store)
    watcher, writer = (redis_storage(url, partitions=PARTITIONS) for _ in range(2))
    recorder = Recorder()
    task = await watching(watcher, recorder)
    try:
        await writer.configs.put("100", {"name": "a"})
        await recorder.wait_for(("changed", 1, ["100"]))
        assert await kill_subscribers(url, node_ports(request, store)) >= 1
        await recorder.wait_for(("lost",))
        await writer.configs.put("100", {"name": "b"})  # maybe while nobody listens
        await recorder.wait_for(("resync", 2))
        after_lost = recorder.events[recorder.events.index(("lost",)) :]
        # whatever order the commit and the new subscription met in, the watcher ends up
        # knowing generation 2, never told as a single change after the gap
        assert ("resync", 2) in after_lost or ("changed", 2, ["100"]) in after_lost
        await writer.configs.put("200", {"name": "c"})
        await recorder.wait_for(("changed", 3, ["200"]))
    finally:
        await cancel_until_done(task)
        await watcher.close()
        await writer.close()


@pytest.mark.parametrize("store", SHARED_STORES)
async def test_a_reset_store_is_noticed_without_any_message(
    request: pytest.FixtureRequest, store: str
) -> None:
    url = store_url(request, store)
    watcher, writer = (redis_storage(url, partitions=PARTITIONS) for _ in range(2))
    recorder = Recorder()
    task = await watching(watcher, recorder)
    try:
        await writer.configs.put("100", {"name": "a"})
        await writer.configs.put("100", {"name": "b"})
        await recorder.wait_for(("changed", 2, ["100"]))
        # FLUSHALL (a Redis restarted without its data) publishes nothing
        told = len(recorder.events)
        request.getfixturevalue("redis_server" if store == "redis" else "redis_cluster").flushall()
        await recorder.wait_for(("resync", 0), within=POLL_S * 3, since=told)
    finally:
        await cancel_until_done(task)
        await watcher.close()
        await writer.close()
