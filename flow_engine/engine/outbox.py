"""Delivery of outbox entries: per number rate limit, retries, idempotency, failures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from flow_engine.domain import facts as data_facts
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.outbound import OUTBOUND_ADAPTER
from flow_engine.engine.configs import ConfigCache
from flow_engine.errors import GatewayError, PermanentGatewayError, TransientGatewayError
from flow_engine.gateway.base import Gateway
from flow_engine.gateway.codes import code_label
from flow_engine.gateway.retry import RetryPolicy, send_with_retry
from flow_engine.logging import mask_phone
from flow_engine.metrics.registry import Metrics
from flow_engine.storage.base import Storage
from flow_engine.storage.outbox import OutboxEntry

log = structlog.get_logger()

COMPLETE_ATTEMPTS = 4
CLAIM_POLL_S = 0.2


class AlreadyHandled(Exception):
    """The entry was sent meanwhile (by a process that owned the partition before)."""


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
        self.clock = clock
        self.record_facts = record_facts

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

    async def deliver(
        self,
        entries: list[OutboxEntry],
        *,
        fresh: bool,
        owner: str,
        config: NumberConfig | None = None,
    ) -> None:
        """Send ``entries`` in order. ``fresh`` entries were just committed and never
        tried; others come from a recovery and are checked against their sent mark.
        ``owner`` identifies the partition worker sending (its send claims);
        ``config`` is the number's configuration when the caller already has it."""
        for entry in entries:
            if not fresh and await self.storage.outbox.was_sent(entry.partition, entry.item.key):
                await self._complete(entry, None)
                continue
            if entry.item.kind == "read":
                await self._mark_read(entry)
            else:
                await self._send(entry, config, owner)

    async def deliver_backlog(self, partition: int, number: str, contact: str, owner: str) -> None:
        """Send every unsent outbox entry of one conversation, oldest first."""
        pending = await self.storage.outbox.pending(partition)
        mine = [e for e in pending if e.item.number == number and e.item.contact == contact]
        await self.deliver(mine, fresh=False, owner=owner)

    async def _complete(
        self,
        entry: OutboxEntry,
        gateway_id: str | None,
        facts: data_facts.Facts | None = None,
    ) -> None:
        """Write the sent mark (with the data facts of the send); a store blip here must
        not turn into a second send."""
        for attempt in range(COMPLETE_ATTEMPTS):
            try:
                await self.storage.outbox.complete(entry, gateway_id, facts)
                return
            except Exception:
                if attempt == COMPLETE_ATTEMPTS - 1:
                    raise
                log.warning("outbox_complete_retry", attempt=attempt + 1)
                await asyncio.sleep(0.05 * 2**attempt)

    async def _mark_read(self, entry: OutboxEntry) -> None:
        item = entry.item
        try:
            await self.gateway.mark_read(item.number, str(item.message["message_id"]))
            self.metrics.outbound.labels("read", "ok").inc()
        except GatewayError as exc:  # a missed read receipt is not worth a retry
            self.metrics.outbound.labels("read", "failed").inc()
            log.warning("mark_read_failed", number=item.number, code=exc.api_code)
        await self._complete(entry, None)

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

    async def _send(self, entry: OutboxEntry, config: NumberConfig | None, owner: str) -> None:
        item = entry.item
        message = OUTBOUND_ADAPTER.validate_python(item.message)
        if config is None:
            config = await self.configs.get(item.number)
        wait = await self.storage.rates.reserve(item.number, await self._rate(item.number, config))
        if wait > 0:
            await asyncio.sleep(wait)

        def on_retry(exc: TransientGatewayError, attempt: int, delay: float) -> None:
            self.metrics.retries.labels(code_label(exc.api_code, exc.http_status)).inc()
            log.info(
                "send_retry",
                number=item.number,
                contact=mask_phone(item.contact),
                code=exc.api_code,
                attempt=attempt,
                delay=round(delay, 3),
            )

        async def claim() -> None:  # before every attempt: see claim()
            await self.claim(entry, owner)

        try:
            wamid = await send_with_retry(
                self.gateway,
                item.number,
                item.contact,
                message,
                self.policy,
                before_attempt=claim,
                on_retry=on_retry,
            )
        except AlreadyHandled:
            await self._complete(entry, None)
            return
        except (PermanentGatewayError, TransientGatewayError) as exc:
            permanent = isinstance(exc, PermanentGatewayError)
            reason = exc.message if permanent else f"retries exhausted: {exc.message}"
            self.metrics.outbound.labels("send", "failed").inc()
            log.warning(
                "send_failed",
                number=item.number,
                contact=mask_phone(item.contact),
                code=exc.api_code,
                permanent=permanent,
                reason=reason,
            )
            await self.storage.events.record_send_failure(
                item.number, item.contact, item.key, exc.api_code, reason
            )
            await self._complete(entry, None)
            return
        self.metrics.outbound.labels("send", "ok").inc()
        await self._complete(entry, wamid, self._sent_facts(entry, config))
