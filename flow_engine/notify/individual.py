"""Individual notifications (R-NOTIFY-1): one template from one number to one contact.

``create`` checks everything before anything goes out (the number's active messaging,
the phone, the template and its parameters, the reply queue, the messaging limit),
stores the notification with its idempotency key, then makes the first send attempt at
once. A send that fails for a reason worth retrying, or that a dying process never
finished, stays due and is retried by the runner's sweep (``runner.py``), claimed first
so two processes never both send it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import structlog

from flow_engine.domain.config import NumberConfig
from flow_engine.domain.notifications import (
    Action,
    Notification,
    NotificationError,
    NotificationRequest,
    PhoneError,
    ReplyRoute,
    callback_data,
    normalize_phone,
    region_of,
)
from flow_engine.domain.outbound import Template
from flow_engine.domain.templates import CatalogTemplate, render
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.errors import (
    Conflict,
    NotFound,
    Problems,
    TooManyRequests,
    UnprocessableEntity,
)
from flow_engine.logging import mask_phone
from flow_engine.metrics.registry import Metrics
from flow_engine.notify.catalog import Catalogs, unprocessable
from flow_engine.notify.facts import NotificationFacts
from flow_engine.notify.limits import MessagingLimits
from flow_engine.notify.sending import TemplateSender
from flow_engine.storage.base import Storage

log = structlog.get_logger()

#: attempts of one notification before it is failed with the last code
ATTEMPTS_MAX = 8
RETRY_BASE_S = 1.0
RETRY_MAX_S = 60.0


def check_enabled(config: NumberConfig) -> None:
    if not config.desk.active_messaging.enabled:
        raise Conflict(
            f"active messaging is off on number {config.phone_number_id} "
            "(desk.active_messaging.enabled)",
            details={"number": config.phone_number_id, "field": "desk.active_messaging.enabled"},
        )


def reply_route(config: NumberConfig, reply: ReplyRoute | None, field: str) -> ReplyRoute | None:
    """The reply route with the queue's configured name; a 422 for an unknown queue when
    call center is on (off: the ticket goes to the number's attendants)."""
    if reply is None:
        return None
    if not config.flow.call_center:
        return reply
    names = config.queue_names()
    match = next((n for n in names if n.casefold() == reply.queue.strip().casefold()), None)
    if match is None:
        raise unprocessable(
            f"number {config.phone_number_id} has no queue {reply.queue!r} "
            f"(queues: {', '.join(names)})",
            [(f"{field}.queue", "unknown queue")],
            "unknown_queue",
        )
    return ReplyRoute(queue=match)


def phone_of(raw: str, config: NumberConfig, field: str = "to") -> str:
    try:
        return normalize_phone(raw, region_of(config.display_phone_number))
    except PhoneError as exc:
        raise UnprocessableEntity(
            "invalid phone", details=[{"field": field, "message": str(exc), "type": "phone"}]
        ) from None


@dataclass(frozen=True)
class Checked:
    """A send that passed its checks: the number, the phone (E.164 digits), the catalog
    template and the reply route."""

    config: NumberConfig
    to: str
    template: CatalogTemplate
    reply: ReplyRoute | None


@dataclass
class Notifications:
    """The use cases of individual notifications."""

    storage: Storage
    configs: ConfigCache
    catalogs: Catalogs
    sender: TemplateSender
    metrics: Metrics
    owner: str
    claim_ttl_ms: int
    limits: MessagingLimits
    clock: Any = time.time
    #: the data facts of each send (R-DATA); None: not recorded
    facts: NotificationFacts | None = None
    _sending: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def store(self) -> Any:
        return self.storage.notifications

    async def check(self, number: str, body: NotificationRequest) -> Checked:
        """Every check of a send but the messaging limit. The number (404) and its active
        messaging (409) refuse the whole send; then the phone, the template and the reply
        queue are checked each on its own, and one 422 names every bad field. The
        parameters are checked only once the template is known: their shape is the
        template's."""
        config = await self.catalogs.config(number)
        check_enabled(config)
        found = Problems()
        to = ""
        template: CatalogTemplate | None = None
        reply: ReplyRoute | None = None
        with found.check():
            to = phone_of(body.to, config)
        with found.check():
            template = await self.catalogs.sendable(
                config, body.template.name, body.template.language
            )
            self.catalogs.check(template, body.parameters, allow_column=False)
        with found.check():
            reply = reply_route(config, body.reply, "reply")
        found.raise_any()
        assert template is not None  # found.raise_any() raised otherwise
        return Checked(config, to, template, reply)

    async def create(
        self, number: str, body: NotificationRequest, actor: str, idempotency_key: str | None
    ) -> Notification:
        checked = await self.check(number, body)
        config, to, template, reply = checked.config, checked.to, checked.template, checked.reply
        now = self.clock()
        limit = await self.limits.of(config)
        allowed, frees = await self.store.reach(number, [to], limit.contacts, now)
        if not allowed[0]:
            self.metrics.notifications_sent.labels("individual", "limited").inc()
            tier = f", {limit.tier}" if limit.tier else ""
            raise TooManyRequests(
                f"number {number} reached its messaging limit "
                f"({limit.contacts} contacts in 24 h{tier}, from {limit.field})",
                details={
                    "number": number,
                    "retry_at": frees,
                    "limit": limit.contacts,
                    "field": limit.field,
                },
            )
        notification = Notification(
            id="ntf_" + uuid.uuid4().hex[:20],
            number=number,
            to=to,
            template=body.template,
            created_at=now,
            extras=dict(body.extras),
            reply=reply,
            text=render(template, body.parameters),
            components=self.sender.message(template, body.parameters, "").components,
            created_by=actor,
        )
        stored, created = await self.store.create(notification, idempotency_key, now)
        if created:
            await self.attempt(stored.id)
        return await self.get(stored.id)

    async def get(self, notification_id: str) -> Notification:
        found = await self.store.get(notification_id)
        if found is None:
            raise NotFound(
                f"notification {notification_id} not found",
                details={"notification_id": notification_id},
            )
        return found  # type: ignore[no-any-return]

    async def attempt(self, notification_id: str) -> None:
        """One send attempt of a pending notification, if this process may claim it."""
        if not await self.store.claim(notification_id, self.owner, self.claim_ttl_ms):
            return
        n: Notification = await self.get(notification_id)
        config = await self.configs.get(n.number)
        await self.store.remember(n.number, {n.to: f"n:{n.id}"}, self.clock())
        wait = await self.storage.rates.reserve(n.number, self.sender.rate_of(config))
        if wait > 0:
            await asyncio.sleep(wait)
        message = Template(
            name=n.template.name,
            language=n.template.language,
            components=n.components,
            callback_data=callback_data("n", n.id),
        )
        outcome = await self.sender.send(n.number, n.to, message)
        now = self.clock()
        attempts = n.attempts + 1
        final = outcome.ok or not (outcome.action == Action.RETRY and attempts < ATTEMPTS_MAX)
        if final and self.facts is not None:  # before the settle: see notify/facts.py
            await self.facts.sent(f"n:{n.id}", n.number, n.to, n.template.name, now, ok=outcome.ok)
        if outcome.ok:
            await self.store.settle(
                n.id,
                {"status": "sent", "wamid": outcome.wamid, "at": now, "attempts": attempts},
                None,
            )
            self.metrics.notifications_sent.labels("individual", "sent").inc()
            self.metrics.notification_statuses.labels("individual", "sent").inc()
            log.info("notification_sent", number=n.number, to=mask_phone(n.to), id=n.id)
            return
        if outcome.action == Action.RETRY and attempts < ATTEMPTS_MAX:
            delay = max(outcome.retry_after or 0, min(RETRY_MAX_S, RETRY_BASE_S * 2**attempts))
            await self.store.settle(n.id, {"attempts": attempts}, now + delay)
            self.metrics.notifications_sent.labels("individual", "retried").inc()
            log.info("notification_retry", id=n.id, code=outcome.code, delay_s=delay)
            return
        error = NotificationError(code=outcome.code, title=outcome.title)
        await self.store.settle(
            n.id,
            {"status": "failed", "error": error.model_dump(), "at": now, "attempts": attempts},
            None,
        )
        self.metrics.notifications_sent.labels("individual", "failed").inc()
        self.metrics.notification_statuses.labels("individual", "failed").inc()
        log.warning("notification_failed", id=n.id, code=outcome.code)

    async def sweep(self) -> int:
        """Send the notifications that are due (retries, and sends a dead process left)."""
        due = await self.store.due(self.clock())
        for nid in due:
            try:
                await self.attempt(nid)
            except Exception:
                log.exception("notification_sweep_failed", id=nid)
        return len(due)
