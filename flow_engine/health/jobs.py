"""The health worker of one process: runs the jobs of the health store, whichever process
scheduled them — re-reads asked by webhooks (``refresh``), the daily reads (``daily``),
the listeners of a class change (``change``) and the alert posts (``alert``).

A job is claimed for ``lease_s``; one whose process died comes due again when the claim
runs out. Failures are retried with backoff (``alerts.backoff``). The worker wakes at once
for work scheduled in its own process and polls every ``poll_s`` for the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from flow_engine.errors import GatewayError, TransientGatewayError
from flow_engine.health.alerts import ALERT_ATTEMPTS, AlertSink, alert_body, backoff
from flow_engine.health.service import ALERT, CHANGE, DAILY, REFRESH, HealthService, change_of
from flow_engine.logging import LogThrottle, log_failure
from flow_engine.storage.health import Job

log = structlog.get_logger()

READ_ATTEMPTS = 5  # reads of one job before it is given up (the error stays on the number)
LISTENER_ATTEMPTS = ALERT_ATTEMPTS
GAUGES_EVERY_S = 30.0


class HealthWorker:
    """Two lanes, each its own task: reads and listeners, and alert posts (a receiver that
    is slow to answer never delays a re-read)."""

    def __init__(
        self,
        service: HealthService,
        *,
        post_alert: AlertSink | None,
        lease_s: float = 30.0,
        poll_s: float = 2.0,
        concurrency: int = 4,
    ) -> None:
        self.service = service
        self.store = service.store
        self.post_alert = post_alert
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.concurrency = concurrency
        self._throttle = LogThrottle()
        self._tasks: list[asyncio.Task[None]] = []
        self._wakes: list[asyncio.Event] = []
        self._gauges_at = 0.0
        self._stopping = False

    def lanes(self) -> list[list[tuple[str, Callable[[Job], Awaitable[None]]]]]:
        reads: list[tuple[str, Callable[[Job], Awaitable[None]]]] = [
            (REFRESH, self._read),
            (DAILY, self._read),
            (CHANGE, self._tell),
        ]
        return [reads, [(ALERT, self._alert)]] if self.post_alert is not None else [reads]

    async def start(self) -> None:
        self._stopping = False
        for i, lane in enumerate(self.lanes()):
            wake = asyncio.Event()  # made in the loop that waits on it
            self._wakes.append(wake)
            self.service.wakers.append(wake.set)
            task = asyncio.create_task(self._loop(lane, wake), name=f"health-worker-{i}")
            self._tasks.append(task)

    async def stop(self) -> None:
        """Stop after the jobs running now. The loops also end on their own at their next
        turn: a cancellation can be swallowed by a store client mid-call."""
        self._stopping = True
        for wake in self._wakes:
            wake.set()
            self.service.wakers.remove(wake.set)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks, self._wakes = [], []

    async def _loop(
        self, lane: list[tuple[str, Callable[[Job], Awaitable[None]]]], wake: asyncio.Event
    ) -> None:
        limit = asyncio.Semaphore(self.concurrency)
        while not self._stopping:
            try:
                done = await self._run(lane, limit)
                now = self.service.clock()
                if lane[0][0] == REFRESH and now - self._gauges_at > GAUGES_EVERY_S:
                    self._gauges_at = now
                    await self.service.update_gauges()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one line per kind per interval (a store outage)
                log_failure(self._throttle, "health_worker_failed", exc)
                done = 0
            if done == 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.poll_s)
                wake.clear()

    async def run_once(self) -> int:
        """Run every job due now, lane after lane; returns how many ran (for tests)."""
        ran = 0
        for lane in self.lanes():
            ran += await self._run(lane, asyncio.Semaphore(self.concurrency))
        return ran

    async def _run(
        self, lane: list[tuple[str, Callable[[Job], Awaitable[None]]]], limit: asyncio.Semaphore
    ) -> int:
        ran = 0
        for kind, handle in lane:
            jobs = await self.store.claim(kind, self.service.clock(), self.lease_s)
            ran += len(jobs)
            await asyncio.gather(*(self._guarded(handle, j, limit) for j in jobs))
        return ran

    async def _guarded(
        self, handle: Callable[[Job], Awaitable[None]], job: Job, limit: asyncio.Semaphore
    ) -> None:
        async with limit:
            try:
                await handle(job)
            except Exception:
                log.exception("health_job_failed", kind=job.kind, key=job.key)
                await self._again(job, LISTENER_ATTEMPTS)

    async def _again(self, job: Job, attempts: int) -> bool:
        """Retry ``job`` later, or give it up after ``attempts`` tries (False)."""
        failed = job.attempts + 1
        if failed >= attempts:
            await self.store.finish(job)
            return False
        await self.store.retry(job, self.service.clock() + backoff(failed))
        return True

    async def _read(self, job: Job) -> None:
        number = job.key
        if await self.service.configs.head(number) is None:
            await self.store.finish(job)  # no longer configured
            return
        day = job.payload if job.kind == DAILY else None
        if day is not None:
            record = await self.store.get(number)
            if record is not None and record.daily_on == day:
                await self.store.finish(job)  # read already (an earlier claim of this job)
                return
        try:
            await self.service.read(number, cause="daily" if day else "webhook", daily=day)
        except GatewayError as exc:
            if isinstance(exc, TransientGatewayError):
                await self._again(job, READ_ATTEMPTS)
            else:
                await self.store.finish(job)
            return
        await self.store.finish(job)

    async def _tell(self, job: Job) -> None:
        change = change_of(job.payload)
        for listener in self.service.listeners:
            await listener(change)
        await self.store.finish(job)

    async def _alert(self, job: Job) -> None:
        assert self.post_alert is not None
        change = change_of(job.payload)
        body = alert_body(change, await self.service.configs.get(change.number))
        metrics = self.service.metrics
        try:
            await self.post_alert(body, change.id)
        except GatewayError as exc:
            if await self._again(job, ALERT_ATTEMPTS):
                metrics.alerts.labels("failed").inc()
                log.warning(
                    "health_alert_failed",
                    change=change.id,
                    attempt=job.attempts + 1,
                    error=exc.message,
                )
            else:
                metrics.alerts.labels("dropped").inc()
                log.error("health_alert_dropped", change=change.id, attempts=job.attempts + 1)
            return
        metrics.alerts.labels("sent").inc()
        log.info("health_alert_sent", change=change.id)
        await self.store.finish(job)
