"""A partition worker's queue read: it ends as soon as the worker is told to stop, and
what it found, or the error it met, reaches the worker."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from flow_engine.domain.inbound import InboundMessage
from flow_engine.engine.runtime import PartitionWorker
from flow_engine.storage.base import Storage

MESSAGE = InboundMessage(
    message_id="wamid.read", number="100000000000001", contact="5491100000001", type="text"
)


def worker(storage: Storage, block_ms: int) -> PartitionWorker:
    rt: Any = SimpleNamespace(storage=storage, block_ms=block_ms, owner="test")
    w = PartitionWorker(rt, 0)
    w._stop_wait = asyncio.ensure_future(w.stopping.wait())  # as run() sets it
    return w


async def test_a_blocked_read_ends_when_the_worker_is_told_to_stop(storage: Storage) -> None:
    w = worker(storage, block_ms=5000)
    reading = asyncio.create_task(w.read("0-0"))
    await asyncio.sleep(0.1)
    assert not reading.done()  # blocked: nothing queued
    started = time.monotonic()
    w.stopping.set()
    assert await asyncio.wait_for(reading, 2) == []
    assert time.monotonic() - started < 1.0  # not the 5 s block
    # nothing was consumed by the abandoned read: a fresh worker finds what comes next
    assert await storage.queue.enqueue(0, MESSAGE)
    again = worker(storage, block_ms=100)
    assert [e.message.message_id for e in await again.read("0-0")] == ["wamid.read"]
    w._stop_wait.cancel()
    again._stop_wait.cancel()


async def test_a_worker_cancelled_mid_read_stays_cancelled(storage: Storage) -> None:
    w = worker(storage, block_ms=5000)
    reading = asyncio.create_task(w.read("0-0"))
    await asyncio.sleep(0.1)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(reading, 2)
    w._stop_wait.cancel()


async def test_a_failing_read_reaches_the_worker(storage: Storage) -> None:
    w = worker(storage, block_ms=100)

    async def broken(*_args: Any) -> Any:
        raise RuntimeError("store says no")

    w.rt = SimpleNamespace(
        storage=SimpleNamespace(queue=SimpleNamespace(read=broken)), block_ms=100
    )
    with pytest.raises(RuntimeError, match="store says no"):
        await w.read("0-0")
    w._stop_wait.cancel()
