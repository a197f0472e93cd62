"""The daily read: once a day, at ``FLOW_ENGINE_HEALTH_CHECK_TIME`` in
``FLOW_ENGINE_HEALTH_TIMEZONE``, every configured number is read from the gateway.

Every process runs a :class:`DailyReader`; the one that takes the day's lease in the store
(``HealthStore.daily_begin``, like the partitions' leases) schedules one ``daily`` job per
number not read yet that day and marks the day done, so neither another process nor a
restart runs it again that day. A process that starts after the check time catches up at
once. The jobs are run by the health workers of every process (``jobs.py``). Without a
check time (``FLOW_ENGINE_HEALTH_CHECK_TIME=off``) there is no daily read.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import time

import structlog

from flow_engine.domain.health import daily_due, next_check
from flow_engine.health.service import DAILY, HealthService
from flow_engine.storage.health import NewJob

log = structlog.get_logger()


class DailyReader:
    def __init__(
        self,
        service: HealthService,
        *,
        check_at: time | None,
        owner: str,
        lease_s: float,
        poll_s: float = 30.0,
    ) -> None:
        self.service = service
        self.check_at = check_at
        self.owner = owner
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.done_day: str | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.check_at is not None:  # None: no daily read (FLOW_ENGINE_HEALTH_CHECK_TIME=off)
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._loop(), name="health-daily")

    async def stop(self) -> None:
        """Stop; the loop also ends on its own at its next turn (a store client can swallow
        a cancellation mid-call)."""
        if self._task is not None:
            self._stop.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        assert self.check_at is not None
        while not self._stop.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("health_daily_failed")
            now = self.service.clock()
            until = next_check(now, self.check_at, self.service.zone)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.05, min(self.poll_s, until - now)))

    async def tick(self) -> str | None:
        """Schedule today's reads if they are due and nobody did; returns the day when this
        process scheduled them."""
        service, store = self.service, self.service.store
        if self.check_at is None:
            return None
        now = service.clock()
        day = daily_due(now, self.check_at, service.zone)
        if day is None or day == self.done_day:
            return None
        state = await store.daily_begin(day, self.owner, now, self.lease_s)
        if state == "done":
            self.done_day = day
            return None
        if state == "busy":
            return None
        numbers = await service.configs.numbers()
        records = await store.many(numbers)
        todo = [n for n in numbers if n not in records or records[n].daily_on != day]
        await store.schedule([NewJob(DAILY, n, now, payload=day, replace=True) for n in todo])
        if not await store.daily_finish(day, self.owner):
            log.warning("health_daily_lease_lost", day=day)
            return None
        self.done_day = day
        service.wake()
        log.info("health_daily_scheduled", day=day, numbers=len(todo))
        return day
