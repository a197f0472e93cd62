"""The data facts of active notifications (R-DATA, docs/data.md): each step of a
notification — sent (the total), received, read, failed, replied — counted once in its
number's rollups, in the block of its template and the recipient's region.

Each fact is applied with a mark naming the notification and the step
(``Rollups.apply_once``), *before* the step is saved in the notification store: a
process that dies in between retries the step and finds the mark, and a status webhook
delivered again finds it too. ``received`` is the first of delivered or read.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flow_engine.domain import facts as F
from flow_engine.domain.inbound import StatusUpdate
from flow_engine.domain.notifications import parse_callback
from flow_engine.domain.regions import region_of
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.storage.notifications import NotificationStore
from flow_engine.storage.rollups import Rollups

#: the levels each webhook status reaches
LEVELS: dict[str, tuple[F.NotifyLevel, ...]] = {
    "delivered": ("received",),
    "read": ("received", "read"),
    "failed": ("failed",),
}


class NotificationFacts:
    def __init__(
        self,
        rollups: Rollups,
        configs: ConfigCache,
        store: NotificationStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rollups = rollups
        self.configs = configs
        self.store = store
        self.clock = clock
        self._templates: dict[str, str] = {}  # campaign id -> template name

    async def _zone(self, number: str) -> str:
        config = await self.configs.get(number)
        return config.timezone if config is not None else "UTC"

    async def record(
        self,
        ref: str,
        level: F.NotifyLevel,
        number: str,
        phone: str,
        template: str,
        at: float,
        contact: str | None = None,
    ) -> bool:
        facts = F.notification(
            number, level, template, region_of(phone), at, await self._zone(number), contact
        )
        return await self.rollups.apply_once(f"{ref}:{level}", facts)

    async def sent(
        self, ref: str, number: str, phone: str, template: str, at: float, *, ok: bool
    ) -> None:
        """A send done: the total, and a message sent (ok) or an error (not ok)."""
        await self.record(ref, "sent", number, phone, template, at, phone if ok else None)
        if not ok:
            await self.record(ref, "failed", number, phone, template, at)

    async def template_of(self, ref: str) -> str | None:
        kind, _, rest = ref.partition(":")
        if kind == "n":
            n = await self.store.get(rest)
            return n.template.name if n is not None else None
        cid = rest.partition(":")[0]
        if cid not in self._templates:
            c = await self.store.campaign(cid)
            if c is None:
                return None
            self._templates[cid] = c.template.name
        return self._templates[cid]

    async def statuses(self, statuses: list[StatusUpdate]) -> None:
        """The levels the status webhooks of our notifications reach."""
        for s in statuses:
            parsed = parse_callback(s.callback)
            levels = LEVELS.get(s.status, ())
            if parsed is None or not levels:
                continue
            kind, ids = parsed
            ref = f"{kind}:{':'.join(ids)}"
            template = await self.template_of(ref)
            if template is None:
                continue
            at = float(s.timestamp) if s.timestamp else None
            for level in levels:
                await self.record(ref, level, s.number, s.recipient, template, at or self.clock())

    async def replied(self, ref: str, number: str, phone: str, at: float) -> None:
        template = await self.template_of(ref)
        if template is not None:
            await self.record(ref, "replied", number, phone, template, at)
