"""Data facts (R-DATA): what each countable event adds to the daily rollups.

A rollup is kept per number and **local day** (the number's time zone) as vectors of
integer *lanes*, one vector per *part* and *block*:

- part ``d``, one block: the day's totals (service, messages, surveys, notifications:
  :data:`DAY_LAYOUT`);
- part ``q``, one block per queue: the service lanes of that queue (:data:`SERVICE`);
- part ``n``, one block per (template, region): the notification lanes (:data:`NOTIFY`).

Counts and the sum + count of every duration (in milliseconds) are lanes, so any
period and any set of numbers sums exactly. Contacts active in a month (MAU, MIS) are
:class:`Active` facts, counted as a set (a HyperLogLog on Redis).

Every fact is an increment of a lane that never goes below zero. A :class:`Facts` is
what one change adds: it is recorded in the same atomic step as the change (the
conversation commit, the outbox completion, the ticket save), so it is counted once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from flow_engine.domain import jsoncodec
from flow_engine.domain.tickets import Ticket, TicketMessage, TicketStatus

Part = Literal["d", "q", "n"]
ActiveKind = Literal["mau", "mis"]
Source = Literal["bot", "attendant", "notification"]
SurveyKind = Literal["csat", "nps"]

#: service lanes, per queue (part ``q``) and for the whole number (the head of ``d``)
SERVICE = (
    "offered",
    "closed",
    "attended",
    "abandoned",
    "lost",
    "transferred",
    "aht_ms",
    "aht_n",
    "tmf_ms",
    "tmf_n",
    "fr_ms",
    "fr_n",
    "rt_ms",
    "rt_n",
)
MESSAGES = ("in", "bot", "attendant", "notification")
SURVEY = ("shown", "answered", *(f"score_{i}" for i in range(11)))
NOTIFY = ("sent", "received", "read", "failed", "replied")
SURVEY_KINDS: tuple[SurveyKind, ...] = ("csat", "nps")

DAY_LAYOUT: tuple[str, ...] = (
    *SERVICE,
    *(f"msg_{m}" for m in MESSAGES),
    *(f"{kind}_{s}" for kind in SURVEY_KINDS for s in SURVEY),
    *(f"ntf_{n}" for n in NOTIFY),
)
LAYOUTS: dict[str, tuple[str, ...]] = {"d": DAY_LAYOUT, "q": SERVICE, "n": NOTIFY}
WIDTH = {part: len(layout) for part, layout in LAYOUTS.items()}
LANE = {part: {name: i for i, name in enumerate(layout)} for part, layout in LAYOUTS.items()}

#: rollups are kept this many days after their day (13 months and a little more); on
#: Redis a month is kept as one, until :data:`KEPT_DAYS` after its last day
KEPT_DAYS = 400
#: monthly active-contact sets are kept this long after the month began (14 months)
ACTIVES_KEPT_DAYS = 430
#: the message types that are not a contact writing (WhatsApp's own notices)
NOT_WRITTEN = frozenset({"system", "event"})


@dataclass(frozen=True)
class Increment:
    """Add ``delta`` to lane ``lane`` of block ``block`` of part ``part`` of ``day``."""

    part: Part
    day: str  # local date, YYYY-MM-DD
    block: str  # "" for the one block of part d; the queue; "template|region"
    lane: int
    delta: int


@dataclass(frozen=True)
class Active:
    """``contact`` was active (``mau``: sent or received; ``mis``: sent) in ``month``."""

    month: str  # YYYY-MM
    kind: ActiveKind
    contact: str


@dataclass
class Facts:
    """What one change of one number adds to its rollups."""

    number: str
    increments: list[Increment] = field(default_factory=list)
    actives: list[Active] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.increments or self.actives)

    def to_json(self) -> str:
        return jsoncodec.dumps(
            {
                "n": self.number,
                "i": [[i.part, i.day, i.block, i.lane, i.delta] for i in self.increments],
                "a": [[a.month, a.kind, a.contact] for a in self.actives],
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Facts:
        doc = jsoncodec.loads(raw)
        return cls(
            number=doc["n"],
            increments=[Increment(p, d, b, int(lane), int(v)) for p, d, b, lane, v in doc["i"]],
            actives=[Active(m, k, c) for m, k, c in doc["a"]],
        )

    def extend(self, other: Facts) -> None:
        if other.number != self.number:
            raise ValueError("facts of two numbers")
        self.increments.extend(other.increments)
        self.actives.extend(other.actives)


@lru_cache(maxsize=256)
def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_date(ts: float, zone: str) -> date:
    return datetime.fromtimestamp(ts, zone_of(zone)).date()


def local_day(ts: float, zone: str) -> str:
    return _local_day_of_second(math.floor(ts), zone)


@lru_cache(maxsize=1024)
def _local_day_of_second(second: int, zone: str) -> str:
    """The local date of a whole second: the same for every instant in it, since zone
    offsets (tzdata's included) are whole seconds, so a local midnight begins a second.
    Cached: the facts of a busy second are all of one day."""
    return datetime.fromtimestamp(second, zone_of(zone)).date().isoformat()


def month_of(day: str) -> str:
    return day[:7]


@lru_cache(maxsize=4096)
def day_expiry(day: str) -> int:
    """When a day's rollup may go (epoch seconds): :data:`KEPT_DAYS` after it."""
    d = date.fromisoformat(day) + timedelta(days=KEPT_DAYS)
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


@lru_cache(maxsize=4096)
def month_days_expiry(month: str) -> int:
    """When a month of rollups may go: :data:`KEPT_DAYS` after its last day."""
    first = date.fromisoformat(f"{month}-01")
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return day_expiry(last.isoformat())


@lru_cache(maxsize=4096)
def month_expiry(month: str) -> int:
    d = date.fromisoformat(f"{month}-01") + timedelta(days=ACTIVES_KEPT_DAYS)
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


class Sheet:
    """Builds the :class:`Facts` of one number in one time zone."""

    def __init__(self, number: str, zone: str) -> None:
        self.facts = Facts(number)
        self.zone = zone

    def add(self, part: Part, name: str, at: float, delta: int = 1, block: str = "") -> None:
        day = local_day(at, self.zone)
        self.facts.increments.append(Increment(part, day, block, LANE[part][name], delta))

    def service(self, queue: str, name: str, at: float, delta: int = 1) -> None:
        """A service lane, in the number's totals and in its queue."""
        self.add("d", name, at, delta)
        self.add("q", name, at, delta, block=queue)

    def duration(self, queue: str, name: str, at: float, seconds: float) -> None:
        """One sample of a duration (``aht``, ``tmf``, ``fr``, ``rt``), counted at ``at``."""
        self.service(queue, f"{name}_ms", at, ms(seconds))
        self.service(queue, f"{name}_n", at, 1)

    def active(self, kind: ActiveKind, contact: str, at: float) -> None:
        month = month_of(local_day(at, self.zone))
        self.facts.actives.append(Active(month, kind, contact))


def message_received(number: str, contact: str, at: float, zone: str) -> Facts:
    """A contact's message: counted received; the contact is active and engaged."""
    sheet = Sheet(number, zone)
    sheet.add("d", "msg_in", at)
    sheet.active("mau", contact, at)
    sheet.active("mis", contact, at)
    return sheet.facts


def message_sent(number: str, contact: str, source: Source, at: float, zone: str) -> Facts:
    """A message the gateway accepted for a contact (bot, attendant or notification)."""
    sheet = Sheet(number, zone)
    sheet.add("d", f"msg_{source}", at)
    sheet.active("mau", contact, at)
    return sheet.facts


def survey_shown(number: str, kind: SurveyKind, at: float, zone: str) -> Facts:
    sheet = Sheet(number, zone)
    sheet.add("d", f"{kind}_shown", at)
    return sheet.facts


def survey_answered(number: str, kind: SurveyKind, score: int, at: float, zone: str) -> Facts:
    if not 0 <= score <= 10:
        raise ValueError(f"survey score {score} out of 0..10")
    sheet = Sheet(number, zone)
    sheet.add("d", f"{kind}_answered", at)
    sheet.add("d", f"{kind}_score_{score}", at)
    return sheet.facts


# --------------------------------------------------------------------------- tickets


def ticket_facts(before: Ticket | None, after: Ticket) -> Facts:
    """What a ticket change adds (``before`` None: the ticket was created). Each ticket
    record counts on its own, in its queue (a transfer closes one record and opens
    another: ``docs/data.md``):

    - created: ``offered``;
    - assigned: a ``tmf`` sample (open → assignment);
    - each new attendant message: the first one at or after the assignment is the
      ``fr`` sample (assignment → first reply); every one that answers a contact
      message is an ``rt`` sample (that contact message, or the assignment if later,
      → the reply);
    - closed: ``closed``; ``attended`` when closed by an attendant or transferred;
      ``transferred``; ``abandoned`` (by the contact, after assignment); ``lost`` (by the
      contact or inactivity, before assignment); an ``aht`` sample (assignment → close).
    """
    sheet = Sheet(after.number, after.timezone)
    q = after.queue
    if before is None:
        sheet.service(q, "offered", after.created_at)
    was_assigned = before is not None and before.assigned_at is not None
    if after.assigned_at is not None and not was_assigned:
        sheet.duration(q, "tmf", after.assigned_at, after.assigned_at - after.created_at)
    known = {m.id for m in before.transcript} if before is not None else set()
    for i, message in enumerate(after.transcript):
        if message.id in known or message.sender != "attendant":
            continue
        _reply_samples(sheet, after, after.transcript[:i], message)
    if after.closed_at is not None and (before is None or before.closed_at is None):
        _closing(sheet, after)
    return sheet.facts


def _reply_samples(
    sheet: Sheet, ticket: Ticket, earlier: list[TicketMessage], reply: TicketMessage
) -> None:
    assigned = ticket.assigned_at
    q = ticket.queue
    if assigned is not None and reply.at >= assigned:
        replied_since = any(m.sender == "attendant" and m.at >= assigned for m in earlier)
        if not replied_since:
            sheet.duration(q, "fr", reply.at, reply.at - assigned)
    waiting: TicketMessage | None = None  # the first contact message since the last reply
    for m in earlier:
        if m.sender == "attendant":
            waiting = None
        elif m.sender == "contact" and waiting is None:
            waiting = m
    if waiting is not None:
        start = waiting.at
        if assigned is not None and start < assigned <= reply.at:
            start = assigned  # the time in the queue is TMF, not response time
        sheet.duration(q, "rt", reply.at, reply.at - start)


def _closing(sheet: Sheet, t: Ticket) -> None:
    assert t.closed_at is not None
    at, q = t.closed_at, t.queue
    sheet.service(q, "closed", at)
    if t.status in (TicketStatus.CLOSED_BY_ATTENDANT, TicketStatus.TRANSFERRED):
        sheet.service(q, "attended", at)
    if t.status == TicketStatus.TRANSFERRED:
        sheet.service(q, "transferred", at)
    before_assignment = t.assigned_at is None
    if t.status == TicketStatus.CLOSED_BY_CONTACT and not before_assignment:
        sheet.service(q, "abandoned", at)
    if before_assignment and t.status in (
        TicketStatus.CLOSED_BY_CONTACT,
        TicketStatus.CLOSED_BY_INACTIVITY,
    ):
        sheet.service(q, "lost", at)
    if t.assigned_at is not None:
        sheet.duration(q, "aht", at, at - t.assigned_at)


# --------------------------------------------------------------------- notifications

NotifyLevel = Literal["sent", "received", "read", "failed", "replied"]


def notification(
    number: str,
    level: NotifyLevel,
    template: str,
    region: str,
    at: float,
    zone: str,
    contact: str | None = None,
) -> Facts:
    """One step of an active notification (R-DATA): ``sent`` (a send done, whatever it
    became: the total; with ``contact``, also a message sent to them), ``received``
    (delivered or read, the first of them), ``read``, ``failed``, ``replied`` — in the
    number's totals and in the block of its template and the recipient's region."""
    sheet = Sheet(number, zone)
    sheet.add("d", f"ntf_{level}", at)
    sheet.add("n", level, at, block=f"{template}|{region}")
    if level == "sent" and contact is not None:
        sheet.add("d", "msg_notification", at)
        sheet.active("mau", contact, at)
    return sheet.facts
