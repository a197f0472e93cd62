"""Delivery of outbox entries: per number rate limit, send claims, scheduled retries, sent
marks, failures.

:meth:`OutboxSender.attempt` makes one attempt at one entry. A transient failure is not
waited out there: the entry's next attempt is *scheduled* — its due time, the failed
attempts and the first try are kept with it in the outbox (``storage/outbox.py``) — and
the entry is handed back, so the caller (a conversation's lane in its partition worker,
``runtime.py``) can let every other conversation go on meanwhile. When a send was
accepted, its sent mark is written before anything else happens to the conversation,
retried for as long as it takes (see :meth:`OutboxSender._finish`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable

import structlog

from flow_engine.domain import facts as data_facts
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.outbound import OUTBOUND_ADAPTER
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.errors import GatewayError, PermanentGatewayError, TransientGatewayError
from flow_engine.gateway.base import Gateway
from flow_engine.gateway.codes import code_label
from flow_engine.gateway.retry import RetryPolicy, next_attempt_at
from flow_engine.logging import LogThrottle, mask_phone
from flow_engine.metrics.registry import Metrics
from flow_engine.storage.base import Storage
from flow_engine.storage.outbox import OutboxEntry, SendClaim

log = structlog.get_logger()

CLAIM_POLL_S = 0.2
#: The sent mark (and a failure record) is written again after 50 ms, 100 ms, … up to 1 s.
FINISH_BACKOFF_S = 0.05
FINISH_BACKOFF_MAX_S = 1.0
#: At shutdown, how long the sent marks still being written may take.
CLOSE_WAIT_S = 5.0
#: A send claim the commit took (``OutboxEntry.claimed_at``) serves the first attempt when
#: it starts within this long; later (a rate wait, earlier replies that were slow), the
#: claim is taken again, so it always outlives the attempt by most of its margin.
COMMIT_CLAIM_FRESH_S = 1.0


class AlreadyHandled(Exception):
    """The entry was sent meanwhile (by a process that owned the partition before)."""


@dataclasses.dataclass(frozen=True)
class Failure:
    """A send given up on: recorded with the conversation's events."""

    code: int | None
    reason: str


class OutboxSender:
    """Sends the outbox entries of one conversation, in order, one at a time."""

    def __init__(
        self,
        storage: Storage,
        gateway: Gateway,
        configs: ConfigCache,
        metrics: Metrics,
        *,
        policy: RetryPolicy,
        default_rate: float,
        claim_ttl_ms: int,
        clock: Callable[[], float] = time.time,
        record_facts: bool = True,
    ) -> None:
        self.storage = storage
        self.gateway = gateway
        self.configs = configs
        self.metrics = metrics
        self.policy = policy
        self.default_rate = default_rate
        self.claim_ttl_ms = claim_ttl_ms
        #: wall clock of the retry due times (kept in the store, read by other processes)
        self.clock = clock
        self.record_facts = record_facts
        self.throttle = LogThrottle()
        self._finishing: set[asyncio.Task[None]] = set()

    def commit_claim(self, owner: str) -> SendClaim:
        """The claim a commit takes for ``owner`` on the entries it appends: the same as
        :meth:`claim` takes, so the first attempt needs no claim of its own."""
        return SendClaim(owner, self.claim_ttl_ms)

    async def claim(self, entry: OutboxEntry, owner: str) -> None:
        """Wait until ``owner`` (one partition worker) may send ``entry``; AlreadyHandled
        if it was sent meanwhile. Run before every send attempt, so a process that lost
        its partition while sending, and the process that took it over, never both send."""
        while True:
            state = await self.storage.outbox.claim(entry, owner, self.claim_ttl_ms)
            if state == "ok":
                return
            if state == "sent":
                raise AlreadyHandled(entry.item.key)
            await asyncio.sleep(CLAIM_POLL_S)  # another process is mid-send: let it finish

    async def attempt(
        self,
        entry: OutboxEntry,
        owner: str,
        *,
        fresh: bool = False,
        config: NumberConfig | None = None,
    ) -> OutboxEntry | None:
        """One attempt at ``entry``: None when it is done with (sent, found sent, or given
        up and recorded as failed), else ``entry`` again with its next attempt scheduled
        (``due``; kept in the outbox). ``fresh`` entries were just committed and never
        tried; others are first checked against their sent mark. ``owner`` identifies the
        partition worker sending (its send claims); ``config`` is the number's
        configuration when the caller has it. A store error before the send propagates
        (nothing was sent: try again later); once the gateway answered, nothing does."""
        if not fresh and await self.storage.outbox.was_sent(entry.partition, entry.item.key):
            await self._finish(entry, None)
            return None
        if entry.item.kind == "read":
            await self._mark_read(entry)
            return None
        return await self._send(entry, config, owner)

    async def deliver(
        self,
        entries: list[OutboxEntry],
        *,
        fresh: bool,
        owner: str,
        config: NumberConfig | None = None,
    ) -> None:
        """Send ``entries`` in order, waiting here for each scheduled retry (for callers
        that have nothing else to do meanwhile: the local chat and test tools)."""
        for entry in entries:
            current: OutboxEntry | None = entry
            first = True
            while current is not None:
                if not first:
                    await asyncio.sleep(max(0.0, current.due - self.clock()))
                current = await self.attempt(current, owner, fresh=fresh and first, config=config)
                first = False

    async def backlog(self, partition: int, number: str, contact: str) -> list[OutboxEntry]:
        """Every unsent outbox entry of one conversation, oldest first."""
        pending = await self.storage.outbox.pending(partition)
        return [e for e in pending if e.item.number == number and e.item.contact == contact]

    async def deliver_backlog(self, partition: int, number: str, contact: str, owner: str) -> None:
        """Send every unsent outbox entry of one conversation, oldest first."""
        await self.deliver(
            await self.backlog(partition, number, contact), fresh=False, owner=owner
        )

    async def give_up(self, entry: OutboxEntry, reason: str) -> None:
        """Record ``entry`` as failed without sending it (it cannot be sent: a bug)."""
        self.metrics.outbound.labels("send", "failed").inc()
        log.error("send_abandoned", number=entry.item.number, key=entry.item.key, reason=reason)
        await self._finish(entry, None, Failure(None, reason))

    async def close(self) -> None:
        """Let the sent marks still being written finish (briefly), then stop them."""
        if self._finishing:
            await asyncio.wait(set(self._finishing), timeout=CLOSE_WAIT_S)
        for task in list(self._finishing):
            task.cancel()

    async def _finish(
        self,
        entry: OutboxEntry,
        gateway_id: str | None,
        failure: Failure | None = None,
        claimed_at: float | None = None,
        facts: data_facts.Facts | None = None,
    ) -> None:
        """Write the outcome of ``entry`` — its failure record, then its sent mark — until
        the store takes it: an outage of the store between a send and its mark must not
        turn into a second send. Retried with backoff for as long as this worker runs
        (while it holds the partition); when it is stopped meanwhile, the writing goes
        on in the background until the send claim taken at ``claimed_at`` (monotonic)
        expires — until then no other process sends the entry, and once its mark is
        written none will."""
        task = asyncio.ensure_future(self._write_outcome(entry, gateway_id, failure, facts))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                left = 0.0
                if claimed_at is not None:
                    left = claimed_at + self.claim_ttl_ms / 1000 - time.monotonic()
                asyncio.get_running_loop().call_later(max(0.0, left), task.cancel)
            raise

    async def _write_outcome(
        self,
        entry: OutboxEntry,
        gateway_id: str | None,
        failure: Failure | None,
        facts: data_facts.Facts | None = None,
    ) -> None:
        item = entry.item
        failed = 0
        recorded = failure is None
        while True:
            try:
                if not recorded and failure is not None:
                    await self.storage.events.record_send_failure(
                        item.number, item.contact, item.key, failure.code, failure.reason
                    )
                    recorded = True
                await self.storage.outbox.complete(entry, gateway_id, facts)
            except Exception as exc:
                failed += 1
                left_out = self.throttle.allow(("outbox_complete_retry", type(exc).__name__))
                if left_out is not None:
                    log.warning(
                        "outbox_complete_retry",
                        number=item.number,
                        key=item.key,
                        attempt=failed,
                        kind=type(exc).__name__,
                        error=str(exc)[:200],
                        left_out=left_out,
                    )
                await asyncio.sleep(
                    min(FINISH_BACKOFF_MAX_S, FINISH_BACKOFF_S * 2 ** (failed - 1))
                )
                continue
            if failed:
                log.info("outbox_completed_after_retries", key=item.key, attempts=failed + 1)
            return

    async def _mark_read(self, entry: OutboxEntry) -> None:
        item = entry.item
        try:
            await self.gateway.mark_read(item.number, str(item.message["message_id"]))
            self.metrics.outbound.labels("read", "ok").inc()
        except GatewayError as exc:  # a missed read receipt is not worth a retry
            self.metrics.outbound.labels("read", "failed").inc()
            log.warning("mark_read_failed", number=item.number, code=exc.api_code)
        await self._finish(entry, None)

    def _sent_facts(
        self, entry: OutboxEntry, config: NumberConfig | None
    ) -> data_facts.Facts | None:
        """A message the gateway accepted, counted by its source (R-DATA volume)."""
        if not self.record_facts:
            return None
        item = entry.item
        sources: dict[str, data_facts.Source] = {
            "attendant": "attendant",
            "notification": "notification",
        }
        source = sources.get(item.source, "bot")
        zone = config.timezone if config is not None else "UTC"
        return data_facts.message_sent(item.number, item.contact, source, self.clock(), zone)

    async def _rate(self, number: str, config: NumberConfig | None) -> float:
        if config is not None and config.send_rate_per_second:
            return float(config.send_rate_per_second)
        return self.default_rate

    async def _send(
        self, entry: OutboxEntry, config: NumberConfig | None, owner: str
    ) -> OutboxEntry | None:
        item = entry.item
        message = OUTBOUND_ADAPTER.validate_python(item.message)
        if config is None:
            config = await self.configs.get(item.number)
        wait = await self.storage.rates.reserve(item.number, await self._rate(item.number, config))
        if wait > 0:
            await asyncio.sleep(wait)
        claimed_at = entry.claimed_at
        if not claimed_at or time.monotonic() - claimed_at > COMMIT_CLAIM_FRESH_S:
            try:
                await self.claim(entry, owner)
            except AlreadyHandled:
                await self._finish(entry, None)
                return None
            claimed_at = time.monotonic()
        started = self.clock()
        try:
            wamid = await self.gateway.send(item.number, item.contact, message)
        except TransientGatewayError as exc:
            first_try = entry.first_try or started
            failed = entry.attempts + 1
            due = next_attempt_at(self.policy, exc, failed, first_try, self.clock())
            if due is not None:
                return await self._schedule(entry, exc, failed, first_try, due)
            await self._failed(entry, exc, f"retries exhausted: {exc.message}", claimed_at)
            return None
        except PermanentGatewayError as exc:
            await self._failed(entry, exc, exc.message, claimed_at)
            return None
        self.metrics.outbound.labels("send", "ok").inc()
        await self._finish(
            entry, wamid, claimed_at=claimed_at, facts=self._sent_facts(entry, config)
        )
        return None

    async def _schedule(
        self,
        entry: OutboxEntry,
        exc: TransientGatewayError,
        failed: int,
        first_try: float,
        due: float,
    ) -> OutboxEntry:
        """Keep the next attempt's due time with the entry (so that a process taking the
        partition over waits for it too) and hand the entry back."""
        item = entry.item
        self.metrics.retries.labels(code_label(exc.api_code, exc.http_status)).inc()
        log.info(
            "send_retry",
            number=item.number,
            contact=mask_phone(item.contact),
            code=exc.api_code,
            attempt=failed - 1,
            delay=round(due - self.clock(), 3),
        )
        # the next attempt claims again (the commit's claim served this one)
        scheduled = dataclasses.replace(
            entry, due=due, attempts=failed, first_try=first_try, claimed_at=0.0
        )
        try:
            await self.storage.outbox.schedule_retry(scheduled)
        except Exception as error:  # the due time still holds here; only a takeover is sooner
            if not self.storage.is_unavailable(error):
                raise
            left_out = self.throttle.allow(("schedule_retry", type(error).__name__))
            if left_out is not None:
                log.warning(
                    "store_unavailable",
                    where="schedule_retry",
                    kind=type(error).__name__,
                    left_out=left_out,
                )
        return scheduled

    async def _failed(
        self, entry: OutboxEntry, exc: GatewayError, reason: str, claimed_at: float
    ) -> None:
        item = entry.item
        self.metrics.outbound.labels("send", "failed").inc()
        log.warning(
            "send_failed",
            number=item.number,
            contact=mask_phone(item.contact),
            code=exc.api_code,
            permanent=isinstance(exc, PermanentGatewayError),
            reason=reason,
        )
        await self._finish(entry, None, Failure(exc.api_code, reason), claimed_at)
