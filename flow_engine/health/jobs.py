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
from flow_engine.storage.health import Job

log = structlog.get_logger()

READ_ATTEMPTS = 5  # reads of one job before it is given up (the error stays on the number)
LISTENER_ATTEMPTS = ALERT_ATTEMPTS
GAUGES_EVERY_S = 30.0


class HealthWorker:
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
        self._limit = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._gauges_at = 0.0
        self._wake = asyncio.Event()
        self._stopping = False

    async def start(self) -> None:
        self._wake = asyncio.Event()  # made in the loop that waits on it
        self._stopping = False
        self.service.wakers.append(self._wake.set)
        self._task = asyncio.create_task(self._loop(), name="health-worker")

    async def stop(self) -> None:
        """Stop after the jobs running now. The loop also ends on its own at its next turn:
        a cancellation can be swallowed by a store client mid-call."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self.service.wakers.remove(self._wake.set)

    async def _loop(self) -> None:
        wake = self._wake
        while not self._stopping:
            try:
                done = await self.run_once()
                now = self.service.clock()
                if now - self._gauges_at > GAUGES_EVERY_S:
                    self._gauges_at = now
                    await self.service.update_gauges()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("health_worker_failed")
                done = 0
            if done == 0:
                sleeper = asyncio.ensure_future(wake.wait())
                try:
                    await asyncio.wait({sleeper}, timeout=self.poll_s)
                finally:
                    sleeper.cancel()
                wake.clear()

    async def run_once(self) -> int:
        """Run every job due now; returns how many ran."""
        kinds: list[tuple[str, Callable[[Job], Awaitable[None]]]] = [
            (REFRESH, self._read),
            (DAILY, self._read),
            (CHANGE, self._tell),
        ]
        if self.post_alert is not None:
            kinds.append((ALERT, self._alert))
        ran = 0
        for kind, handle in kinds:
            jobs = await self.store.claim(kind, self.service.clock(), self.lease_s)
            ran += len(jobs)
            await asyncio.gather(*(self._guarded(handle, j) for j in jobs))
        return ran

    async def _guarded(self, handle: Callable[[Job], Awaitable[None]], job: Job) -> None:
        async with self._limit:
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
