"""Tracking (R-NOTIFY-4): status webhooks move notifications and recipients forward, and
a contact's message within 7 days of a notification marks it replied.

Statuses are matched by the ``biz_opaque_callback_data`` the send carried (``fe:n:<id>``
or ``fe:c:<campaign>:<index>``), so the webhook path does one store step per POST and no
lookup by ``wamid``. Replies: the runtime asks :meth:`Tracker.reply_to` before the flow
handles a contact's message (in order with the contact's other messages); the answer,
when the message is the reply, tells the base flow where it goes (``reply.queue``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from flow_engine.domain.inbound import AccountEvent, InboundMessage, StatusUpdate
from flow_engine.domain.notifications import (
    WEBHOOK_STATUSES,
    ReplyTarget,
    parse_callback,
)
from flow_engine.domain.templates import render, resolve
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.metrics.registry import Metrics
from flow_engine.notify.facts import NotificationFacts
from flow_engine.storage.notifications import NotificationStore, StatusChange

log = structlog.get_logger()

#: contact messages that are not a reply (the gateway's own notices)
NOT_REPLIES = frozenset({"system", "unsupported", "event"})


#: the webhook field of template status changes, and the statuses its events name
TEMPLATE_STATUS_FIELD = "message_template_status_update"


class Tracker:
    def __init__(
        self,
        store: NotificationStore,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        configs: ConfigCache | None = None,
        facts: NotificationFacts | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.configs = configs
        self.facts = facts

    async def on_events(self, events: list[AccountEvent]) -> int:
        """``message_template_status_update``: the template's new status in the catalog of
        every number of that WABA (a paused or disabled template is then refused before
        sending). Returns how many catalog entries changed."""
        changed = 0
        wanted = [e for e in events if e.field == TEMPLATE_STATUS_FIELD]
        if not wanted or self.configs is None:
            return 0
        numbers = await self.configs.store.numbers()
        for event in wanted:
            value = event.value
            name, language = (
                value.get("message_template_name"),
                value.get("message_template_language"),
            )
            status = str(value.get("event") or "").upper()
            if not name or not status:
                continue
            for number in numbers:
                config = await self.configs.get(number)
                if config is None or config.waba_id != event.waba_id:
                    continue
                templates, synced = await self.store.catalog(number)
                updated = [
                    t.model_copy(update={"status": status})
                    if t.name == name
                    and (language is None or _lang(t.language) == _lang(str(language)))
                    else t
                    for t in templates
                ]
                if updated != templates:
                    changed += sum(1 for a, b in zip(templates, updated, strict=True) if a != b)
                    await self.store.save_catalog(number, updated, synced or self.clock())
                    log.info("template_status_changed", number=number, name=name, status=status)
        return changed

    async def on_statuses(self, statuses: list[StatusUpdate]) -> int:
        """Apply the statuses of our notifications (others are left alone); returns how
        many moved something."""
        changes = []
        for s in statuses:
            parsed = parse_callback(s.callback)
            status = WEBHOOK_STATUSES.get(s.status)
            if parsed is None or status is None:
                continue
            kind, ids = parsed
            changes.append(
                StatusChange(
                    f"{kind}:{':'.join(ids)}",
                    status,
                    float(s.timestamp or self.clock()),
                    wamid=s.message_id,
                    code=s.error_code,
                    title=s.error_title,
                )
            )
        if not changes:
            return 0
        if self.facts is not None:  # before the store: see notify/facts.py
            await self.facts.statuses(statuses)
        moved = await self.store.apply(changes)
        for t in moved:
            kind = "individual" if t.ref.startswith("n:") else "campaign"
            self.metrics.notification_statuses.labels(kind, t.after).inc()
        return len(moved)

    async def reply_to(self, message: InboundMessage) -> ReplyTarget | None:
        """When ``message`` is the contact's reply to the notification last sent to them by
        that number (within 7 days): mark it replied and say where the reply goes. The same
        message handled again (a retry) gets the same answer."""
        if message.type in NOT_REPLIES:
            return None
        now = self.clock()
        held = await self.store.reply_ref(message.number, message.contact, now)
        if held is None:
            return None
        if self.facts is not None:  # before the store: see notify/facts.py
            await self.facts.replied(held.ref, message.number, message.contact, now)
        if not await self.store.mark_replied(held.ref, message.message_id, now):
            return None
        kind = "individual" if held.ref.startswith("n:") else "campaign"
        self.metrics.notification_statuses.labels(kind, "replied").inc()
        return await self.target(held.ref, held.sent_at)

    async def target(self, ref: str, sent_at: float) -> ReplyTarget | None:
        kind, _, rest = ref.partition(":")
        if kind == "n":
            n = await self.store.get(rest)
            if n is None:
                return None
            return ReplyTarget(
                ref=ref,
                queue=n.reply.queue if n.reply else None,
                extras=n.extras,
                template=n.template.name,
                text=n.text,
                sent_at=n.sent_at or sent_at,
            )
        cid, _, index = rest.partition(":")
        c = await self.store.campaign(cid)
        r = await self.store.recipient(cid, int(index))
        if c is None or r is None:
            return None
        row = c.row_of(r.values)
        extras = {k: str(resolve(v, row)) for k, v in c.extras.items()}
        template = c.templates.get(r.sender)
        params = resolve(c.parameters, row) if c.parameters else None
        return ReplyTarget(
            ref=ref,
            queue=c.reply.queue if c.reply else None,
            extras=extras,
            template=c.template.name,
            text=render(template, params) if template is not None else "",
            sent_at=r.sent_at or sent_at,
        )


def _lang(code: str) -> str:
    return code.replace("-", "_").casefold()
