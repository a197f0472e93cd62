"""The health service (R-HEALTH): reads what the gateway says of each number, keeps its
class, snapshots and events, and tells the rest of the engine when a class changes.

Reads happen three ways: the daily read (``daily.py``), on request
(``POST /api/v1/numbers/{number}/gateway/refresh``), and live — a
``phone_number_quality_update`` or ``account_update`` webhook is kept in the number's
history and schedules a re-read job that a worker runs at once (``jobs.py``); the webhook
only writes to the store, it never waits for the gateway.

A change of class is saved together with its jobs: the alert to POST (when
``FLOW_ENGINE_ALERT_WEBHOOK_URL`` is set) and the listeners to tell
(:meth:`HealthService.on_change`, registered at app start — the campaigns are held there,
``notify/holds.py``). Both run at least once, in whichever process claims them; listeners
must be idempotent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from flow_engine.domain.health import (
    EVENT_FIELDS,
    PHONE_FIELDS,
    ClassChange,
    DailySnapshot,
    HealthClass,
    HealthEvent,
    HealthRow,
    NumberHealth,
    counts,
    event_id,
    limit_contacts,
    local_day,
    oldest_kept_day,
)
from flow_engine.domain.inbound import AccountEvent
from flow_engine.errors import GatewayError, NotFound
from flow_engine.gateway.base import Gateway
from flow_engine.health.index import NumberIndex
from flow_engine.health.metrics import HealthMetrics
from flow_engine.storage.configs import ConfigStore
from flow_engine.storage.health import HealthStore, NewJob

log = structlog.get_logger()

Listener = Callable[[ClassChange], Awaitable[None]]
REFRESH, DAILY, CHANGE, ALERT = "refresh", "daily", "change", "alert"


def mask_display(display: str) -> str:
    return display if len(display) <= 4 else f"{display[:3]}…{display[-4:]}"


@dataclass(frozen=True)
class MessagingLimit:
    """A number's messaging limit as the gateway last gave it: the tier (``TIER_2K``), the
    contacts it allows per rolling 24 h (None: unlimited), and when it was read."""

    tier: str
    contacts: int | None
    read_at: float


class HealthService:
    def __init__(
        self,
        store: HealthStore,
        configs: ConfigStore,
        gateway: Gateway,
        metrics: HealthMetrics,
        *,
        zone: ZoneInfo,
        alerts: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.configs = configs
        self.gateway = gateway
        self.metrics = metrics
        self.zone = zone
        self.alerts = alerts
        self.clock = clock
        self.index = NumberIndex(configs)
        self.listeners: list[Listener] = []
        #: called when there is work for the job workers of this process
        self.wakers: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ wiring
    def on_change(self, listener: Listener) -> None:
        """Call ``listener`` with every class change (at least once, from a job)."""
        self.listeners.append(listener)

    def wake(self) -> None:
        for waker in self.wakers:
            waker()

    # ------------------------------------------------------------------ reads
    def today(self, now: float | None = None) -> str:
        return local_day(self.clock() if now is None else now, self.zone)

    async def read(self, number: str, *, cause: str, daily: str | None = None) -> NumberHealth:
        """Read the number's fields from the gateway now and save what they say. A refusal
        is recorded on the number (its facts stay) and raised."""
        try:
            fields = await self.gateway.phone_number(number, PHONE_FIELDS)
        except GatewayError as exc:
            self.metrics.reads.labels(cause, "failed").inc()
            at, code, message = self.clock(), exc.api_code, exc.message

            def failed(h: NumberHealth) -> tuple[NumberHealth, None, None]:
                return h.after_error(at=at, code=code, message=message), None, None

            await self.store.update(number, failed, oldest_day=oldest_kept_day(self.today(at)))
            log.warning("health_read_failed", number=number, cause=cause, api_code=exc.api_code)
            raise
        self.metrics.reads.labels(cause, "ok").inc()
        return await self.record_fields(number, fields, cause=cause, daily=daily)

    async def record_fields(
        self, number: str, fields: dict[str, Any], *, cause: str, daily: str | None = None
    ) -> NumberHealth:
        """Save phone number fields read from the gateway (all of them, or some)."""
        at = self.clock()
        today = self.today(at)

        def change(h: NumberHealth) -> tuple[NumberHealth, ClassChange | None, DailySnapshot]:
            after, klass = h.after_read(fields, at=at, cause=cause, day=daily)
            return after, klass, after.snapshot(today)

        saved, klass = await self.store.update(
            number, change, oldest_day=oldest_kept_day(today), jobs=self._jobs_of
        )
        if klass is not None:
            self.metrics.changes.labels(klass.before.value, klass.after.value).inc()
            log.info(
                "health_class_changed",
                number=number,
                before=klass.before.value,
                after=klass.after.value,
                quality_rating=klass.quality_rating,
                cause=cause,
            )
            self.wake()
            await self.update_gauges()
        return saved

    def _jobs_of(self, change: ClassChange) -> list[NewJob]:
        payload = change.model_dump_json()
        jobs = [NewJob(CHANGE, change.id, change.at, payload)]
        if self.alerts:
            jobs.append(NewJob(ALERT, change.id, change.at, payload))
        return jobs

    async def update_gauges(self) -> dict[str, int]:
        numbers = await self.configs.numbers()
        records = await self.store.many(numbers)
        found = {c.value: 0 for c in HealthClass}
        for n in numbers:
            record = records.get(n)
            found[(record.health if record else HealthClass.UNKNOWN).value] += 1
        self.metrics.set_counts(found)
        return found

    # ------------------------------------------------------------------ webhooks
    async def record_webhook_events(self, events: list[AccountEvent], received_at: float) -> int:
        """Keep every quality / account event in the history of the numbers it names and
        schedule their re-read; returns how many numbers will be re-read. Only the store
        is written: the webhook answers without waiting for the gateway."""
        refresh: set[str] = set()
        for e in events:
            if e.field not in EVENT_FIELDS:
                continue
            numbers, learned_waba = await self._numbers_of(e)
            if not numbers:
                display = str(e.value.get("display_phone_number") or e.value.get("phone_number"))
                log.warning(
                    "health_event_unmatched",
                    field=e.field,
                    event_name=e.value.get("event"),
                    waba_id=e.waba_id,
                    display=mask_display(display),
                )
                continue
            # the re-read is scheduled before the event is kept: a redelivery after a crash
            # in between schedules it again
            await self.store.schedule(
                [NewJob(REFRESH, n, received_at, payload=REFRESH, replace=True) for n in numbers]
            )
            refresh.update(numbers)
            at = float(e.time) if e.time is not None else received_at
            for n in numbers:
                event = HealthEvent(
                    id=event_id(e.field, e.waba_id, at, e.value),
                    number=n,
                    field=e.field,
                    event=str(e.value.get("event") or ""),
                    waba_id=e.waba_id,
                    at=at,
                    value=e.value,
                )
                if await self.store.record_event(event):
                    log.info("health_event", number=n, field=e.field, event_name=event.event)
                if learned_waba and e.waba_id:
                    await self._learn_waba(n, e.waba_id)
        if refresh:
            self.wake()
        return len(refresh)

    async def _numbers_of(self, e: AccountEvent) -> tuple[list[str], bool]:
        """The configured numbers an event is about, and whether it named them by display
        number (then its WABA id is theirs)."""
        display = e.value.get("display_phone_number") or e.value.get("phone_number")
        if isinstance(display, str | int) and str(display):
            return await self.index.display(str(display)), True
        numbers = await self.index.waba(e.waba_id)
        if not numbers and e.waba_id:
            all_numbers = await self.configs.numbers()
            records = await self.store.many(all_numbers)
            numbers = [n for n, r in records.items() if r.waba_id == e.waba_id]
        return numbers, False

    async def _learn_waba(self, number: str, waba_id: str) -> None:
        def change(h: NumberHealth) -> tuple[NumberHealth, None, None]:
            return h.model_copy(update={"waba_id": waba_id}), None, None

        current = await self.store.get(number)
        if current is None or current.waba_id != waba_id:
            await self.store.update(number, change, oldest_day=oldest_kept_day(self.today()))

    # ------------------------------------------------------------------ what others read
    async def facts(self, number: str) -> NumberHealth | None:
        """What the gateway last said of ``number`` (None: never read)."""
        return await self.store.get(number)

    async def messaging_limit(self, number: str) -> MessagingLimit | None:
        """The number's messaging limit as last read (None: never read, or a tier not
        known): the campaigns of the number keep under it."""
        record = await self.store.get(number)
        tier = record.messaging_limit if record else None
        fact = record.facts.get("whatsapp_business_manager_messaging_limit") if record else None
        if tier is None or fact is None:
            return None
        try:
            contacts = limit_contacts(tier)
        except KeyError:
            return None
        return MessagingLimit(tier=tier, contacts=contacts, read_at=fact.read_at)

    async def bad_since(self, numbers: list[str]) -> dict[str, str]:
        """Of ``numbers``, those rated bad now, each with the id of the class change that
        made it so (``ClassChange.id``): what the campaigns of the number are held for."""
        records = await self.store.many(numbers)
        return {n: r.change_id for n, r in records.items() if r.health == HealthClass.BAD}

    # ------------------------------------------------------------------ the table
    async def table(
        self, numbers: list[str], *, health: HealthClass | None = None, q: str | None = None
    ) -> tuple[dict[str, int], list[HealthRow]]:
        """The counts per class of ``numbers`` matching ``q``, and their rows in ``health``
        (all classes when None), by display number."""
        heads = await self.configs.heads(numbers)
        records = await self.store.many(list(heads))
        rows = [HealthRow.of(n, heads[n].config, records.get(n)) for n in numbers if n in heads]
        found = [r for r in rows if r.matches(q)]
        shown = [r for r in found if health is None or r.health == health]
        shown.sort(key=lambda r: (r.display_phone_number, r.number))
        return counts(found), shown

    async def history(self, number: str) -> dict[str, Any]:
        if await self.configs.head(number) is None:
            raise NotFound(f"number {number} has no configuration", details={"number": number})
        return {
            "number": number,
            "days": await self.store.snapshots(number),
            "changes": await self.store.changes(number),
            "events": await self.store.events(number),
        }


def change_of(payload: str) -> ClassChange:
    return ClassChange.model_validate(json.loads(payload))
