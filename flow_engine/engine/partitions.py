"""Partition ownership: each engine process owns a fair share of the inbound
partitions through leases in the store, renews them, and takes over the
partitions of a process that died once their leases expire."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import socket
import time
import uuid

import structlog

from flow_engine.engine.runtime import PartitionWorker, Runtime
from flow_engine.metrics.registry import Metrics
from flow_engine.storage.leases import LeaseStore

log = structlog.get_logger()


def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class PartitionManager:
    """Keeps this process's share of partitions leased, each with a running worker."""

    def __init__(
        self,
        runtime: Runtime,
        leases: LeaseStore,
        metrics: Metrics,
        *,
        partitions: int,
        ttl_ms: int,
        owner: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.leases = leases
        self.metrics = metrics
        self.partitions = partitions
        self.ttl_ms = ttl_ms
        self.owner = owner or new_owner_id()
        self.workers: dict[int, tuple[PartitionWorker, asyncio.Task[None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._rng = random.Random()
        self._releasing: set[asyncio.Task[None]] = set()
        self._stopping: dict[int, asyncio.Task[None]] = {}  # lost, still winding down
        self._beaten = False  # a first heartbeat was made
        self._closing = asyncio.Event()
        self._hold_until = 0.0  # take no new partition before (monotonic)

    async def start(self) -> None:
        await self.rebalance()
        self._task = asyncio.create_task(self._loop(), name="partition-manager")

    async def stop(self) -> None:
        self._closing.set()
        if self._task is not None:
            # told by the flag too: a cancellation can get lost in the store client (a
            # timeout that fires with it turns it into an error, which is retried), and a
            # stop must never hang on it
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=self.ttl_ms / 1000)
        await asyncio.gather(*self._releasing, return_exceptions=True)
        await asyncio.gather(*(self._stop_worker(p) for p in list(self.workers)))
        with contextlib.suppress(Exception):
            await self.leases.leave(self.owner)

    async def _loop(self) -> None:
        interval = self.ttl_ms / 3000
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), interval)
            if self._closing.is_set():
                return
            try:
                await self.rebalance()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a store outage: one line per interval, not per round
                self.runtime.report(exc, "partition_rebalance")

    async def rebalance(self) -> None:
        beat = await self.leases.heartbeat(self.owner, self.ttl_ms)
        if beat.rejoined and self._beaten:
            # the store forgot this process (it lost its data, or could not be reached for
            # longer than a lease): so it forgot the others too. Take no partition of
            # theirs until they had a lease's time to announce themselves and take their
            # own back — their workers hold the messages they were handling.
            self._hold_until = time.monotonic() + self.ttl_ms / 1000
            log.warning("partition_manager_rejoined", owned=len(self.workers))
        self._beaten = True
        alive = max(1, beat.alive)
        target = math.ceil(self.partitions / alive)
        for p in [p for p, (_w, task) in self.workers.items() if task.done()]:
            self._reap(p, self.workers[p][1])
        owned = list(self.workers)
        renewed = await self.leases.renew_many(owned, self.owner, self.ttl_ms)
        for p, ok in zip(owned, renewed, strict=True):
            if not ok and p in self.workers:
                # another process may hold it now: stop at once, and do not take it back
                # until this worker has really finished
                log.warning("partition_lost", partition=p)
                worker, task = self.workers.pop(p)
                worker.stopping.set()
                task.cancel()
                self._stopping[p] = task
        for p in [p for p, task in self._stopping.items() if task.done()]:
            del self._stopping[p]
        extra = len(self.workers) - target
        for p in list(self.workers)[: max(0, extra)]:
            # hand back in the background: renewing the other leases must not wait for it
            task = asyncio.create_task(self._release(p, self.workers.pop(p)), name=f"release-{p}")
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)
        if len(self.workers) < target and time.monotonic() >= self._hold_until:
            candidates = [
                p
                for p in range(self.partitions)
                if p not in self.workers and p not in self._stopping
            ]
            self._rng.shuffle(candidates)
            for p in candidates:
                if len(self.workers) >= target:
                    break
                if await self.leases.acquire(p, self.owner, self.ttl_ms):
                    self._start_worker(p)
        self.metrics.partitions.set(len(self.workers))

    def _start_worker(self, p: int) -> None:
        worker = PartitionWorker(self.runtime, p)
        task = asyncio.create_task(worker.run(), name=f"partition-{p}")
        self.workers[p] = (worker, task)
        log.debug("partition_acquired", partition=p)

    def _reap(self, p: int, task: asyncio.Task[None]) -> None:
        self.workers.pop(p, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("partition_worker_died", partition=p, error=repr(task.exception()))

    async def _stop_worker(self, p: int) -> None:
        entry = self.workers.pop(p, None)
        if entry is not None:
            await self._release(p, entry)

    async def _release(self, p: int, entry: tuple[PartitionWorker, asyncio.Task[None]]) -> None:
        """Let the worker finish its batch, then give the partition back."""
        worker, task = entry
        worker.stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self.ttl_ms / 1000)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
        except Exception:
            log.exception("partition_worker_failed", partition=p)
        with contextlib.suppress(Exception):
            await self.leases.release(p, self.owner)
