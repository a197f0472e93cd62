"""The notification work of one engine process: drive the campaigns whose lease it gets
(one process per campaign at a time; another takes over when it dies) and sweep the
individual notifications that are due (retries, and sends a dead process left)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from flow_engine.logging import LogThrottle, log_failure
from flow_engine.notify.driver import CampaignDriver, DriverContext
from flow_engine.notify.individual import Notifications

log = structlog.get_logger()

TICK_S = 0.5
STOP_WAIT_S = 15.0


class NotifyRunner:
    def __init__(self, ctx: DriverContext, notifications: Notifications) -> None:
        self.ctx = ctx
        self.notifications = notifications
        self.drivers: dict[str, tuple[CampaignDriver, asyncio.Task[None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._throttle = LogThrottle()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="notify-runner")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            # a flag as well as the cancel: a library that swallows one CancelledError (seen
            # with redis-py mid-command) must not keep the loop alive
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for driver, _task in self.drivers.values():
            driver.stopping.set()
        tasks = [t for _d, t in self.drivers.values()]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=STOP_WAIT_S)
            for t in pending:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one line per kind per interval (a store outage)
                log_failure(self._throttle, "notify_runner_failed", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), TICK_S)

    async def tick(self) -> None:
        store, ctx = self.ctx.store, self.ctx
        for cid in [c for c, (_d, t) in self.drivers.items() if t.done()]:
            del self.drivers[cid]
        for cid in await store.active():
            if cid in self.drivers:
                continue
            if await store.acquire(cid, ctx.owner, ctx.lease_ttl_ms):
                driver = CampaignDriver(ctx, cid)
                task = asyncio.create_task(driver.run(), name=f"campaign-{cid}")
                self.drivers[cid] = (driver, task)
                log.info("campaign_driving", campaign=cid)
        await self.notifications.sweep()
