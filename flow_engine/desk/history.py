"""The ticket history of a number (R-DESK-3): its tickets of the retention window,
searched and paged, exported as CSV, and the retention itself: tickets closed before the
window leave every index and the store, so memory stays bounded."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog

from flow_engine.domain.facts import zone_of
from flow_engine.domain.tickets import Ticket, TicketStatus
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.storage.tickets import TicketStore

log = structlog.get_logger()

DAY_S = 86400
#: how often the retention runs, the first time a minute after the start
RETENTION_EVERY_S = 3600.0
RETENTION_FIRST_S = 60.0


def acted_by(ticket: Ticket) -> list[str]:
    """The attendants who took part: the assignee, who moved the ticket, who wrote."""
    found: list[str] = []
    names = [ticket.attendant, *(t.by for t in ticket.transitions)]
    names += [m.attendant for m in ticket.transcript if m.sender == "attendant"]
    for name in names:
        if name and name != "system" and name not in found:
            found.append(name)
    return found


@dataclass(frozen=True)
class HistoryFilter:
    """``status`` exact, ``queue`` ignoring case, ``attendant`` among those who took part,
    ``q`` in the contact's name (ignoring case) or phone (its digits)."""

    status: TicketStatus | None = None
    queue: str | None = None
    attendant: str | None = None
    q: str | None = None

    def __call__(self, t: Ticket) -> bool:
        if self.status is not None and t.status != self.status:
            return False
        if self.queue is not None and t.queue.casefold() != self.queue.casefold():
            return False
        if self.attendant is not None and self.attendant.casefold() not in (
            a.casefold() for a in acted_by(t)
        ):
            return False
        if self.q:
            needle = self.q.strip().casefold()
            digits = "".join(c for c in needle if c.isdigit())
            in_name = needle in t.contact_name.casefold()
            in_phone = bool(digits) and digits in t.contact
            if not (in_name or in_phone):
                return False
        return True


class TicketHistory:
    """The history of every number, over ``retention_days``."""

    def __init__(
        self,
        tickets: TicketStore,
        configs: ConfigCache,
        retention_days: int = 93,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tickets = tickets
        self.configs = configs
        self.retention_days = retention_days
        self.clock = clock

    async def zone(self, number: str) -> str:
        config = await self.configs.get(number)
        return config.timezone if config is not None else "UTC"

    async def window(
        self, number: str, start: date | None, end: date | None
    ) -> tuple[float, float, date, date]:
        """[since, until) of local dates ``start``..``end`` (default: the retention
        window up to today), and those dates."""
        zone = zone_of(await self.zone(number))
        now = self.clock()
        today = datetime.fromtimestamp(now, zone).date()
        if end is None:
            end = today
        if start is None:
            start = datetime.fromtimestamp(now - self.retention_days * DAY_S, zone).date()
        since = datetime(start.year, start.month, start.day, tzinfo=zone).timestamp()
        after = end + timedelta(days=1)
        until = datetime(after.year, after.month, after.day, tzinfo=zone).timestamp()
        return since, until, start, end

    async def matching(
        self, number: str, start: date | None, end: date | None, f: HistoryFilter
    ) -> AsyncIterator[Ticket]:
        since, until, _s, _e = await self.window(number, start, end)
        async for t in self.tickets.scan(number, since, until):
            if f(t):
                yield t

    async def page(
        self,
        number: str,
        start: date | None,
        end: date | None,
        f: HistoryFilter,
        limit: int,
        offset: int,
    ) -> tuple[list[Ticket], int | None]:
        """A page, newest first, and the offset of the next page (None: the last)."""
        found: list[Ticket] = []
        seen = 0
        async for t in self.matching(number, start, end, f):
            if seen >= offset:
                found.append(t)
                if len(found) > limit:
                    return found[:limit], offset + limit
            seen += 1
        return found, None

    async def purge(self) -> int:
        """Drop every ticket closed before the retention window; how many."""
        cutoff = self.clock() - self.retention_days * DAY_S
        total = 0
        while (gone := await self.tickets.purge(cutoff)) > 0:
            total += gone
        if total:
            log.info("tickets_purged", tickets=total, retention_days=self.retention_days)
        return total

    async def run_retention(
        self,
        stop: asyncio.Event,
        every_s: float = RETENTION_EVERY_S,
        first_s: float = RETENTION_FIRST_S,
    ) -> None:
        """Purge ``first_s`` after the start, then every ``every_s``, until ``stop`` is
        set (a stop, not a cancel: a purge in flight finishes its call to the store)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), first_s)
        while not stop.is_set():
            try:
                await self.purge()
            except Exception as exc:
                log.warning("tickets_purge_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)


CSV_COLUMNS = [
    "id",
    "contact",
    "contact_name",
    "queue",
    "status",
    "attendant",
    "attendants",
    "created_at",
    "assigned_at",
    "closed_at",
    "messages",
    "transferred_from",
    "transferred_to",
]


def local_time(ts: float | None, zone: str) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, zone_of(zone)).isoformat(timespec="seconds")


def history_csv_header() -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(CSV_COLUMNS)
    return out.getvalue()


def history_csv_row(t: Ticket, zone: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(
        [
            t.id,
            t.contact,
            t.contact_name,
            t.queue,
            t.status.value,
            t.attendant or "",
            " ".join(acted_by(t)),
            local_time(t.created_at, zone),
            local_time(t.assigned_at, zone),
            local_time(t.closed_at, zone),
            len(t.transcript),
            t.transferred_from or "",
            t.transferred_to or "",
        ]
    )
    return out.getvalue()
