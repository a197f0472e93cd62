"""Number health (PRODUCT §8, R-HEALTH): what the gateway says of each number, its class,
its daily snapshots and the account events that concern it.

The gateway rates every business number (``quality_rating``); the class follows it::

    GREEN ──► good      YELLOW ──► medium      RED ──► bad      anything else ──► unknown

A :class:`NumberHealth` is immutable: :meth:`NumberHealth.after_read` returns the record
after a read of the phone number fields and the :class:`ClassChange` it caused (None when
the class stayed), so a store can save it version-checked and record the change in the
same step. No I/O here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

#: The phone number fields read from the gateway (WHATSAPP.md, "Phone numbers").
PHONE_FIELDS = (
    "display_phone_number",
    "verified_name",
    "quality_rating",
    "status",
    "name_status",
    "code_verification_status",
    "throughput",
    "whatsapp_business_manager_messaging_limit",
)
#: Webhook fields that make the engine re-read a number at once.
EVENT_FIELDS = frozenset({"phone_number_quality_update", "account_update"})
#: Days of daily snapshots kept per number.
SNAPSHOT_DAYS = 90
#: Events and class changes kept per number (newest).
HISTORY_KEPT = 500


class HealthClass(StrEnum):
    GOOD = "good"
    MEDIUM = "medium"
    BAD = "bad"
    UNKNOWN = "unknown"


QUALITY_CLASS = {"GREEN": HealthClass.GOOD, "YELLOW": HealthClass.MEDIUM, "RED": HealthClass.BAD}

#: Meta's messaging limit tiers → distinct contacts per rolling 24 h (None: unlimited).
TIER_CONTACTS: dict[str, int | None] = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1_000,
    "TIER_2K": 2_000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
    "TIER_UNLIMITED": None,
    "UNLIMITED": None,
}


def class_of(quality_rating: Any) -> HealthClass:
    """The class of a ``quality_rating`` (``NA``, ``UNKNOWN``, missing: unknown)."""
    return QUALITY_CLASS.get(str(quality_rating).upper(), HealthClass.UNKNOWN)


def limit_tier(raw: Any) -> str | None:
    """The tier name of a ``whatsapp_business_manager_messaging_limit`` value (a string
    such as ``TIER_2K``; an object carrying ``max_daily_conversations_per_business`` is read
    too), or None when there is none."""
    if isinstance(raw, dict):
        raw = raw.get("max_daily_conversations_per_business") or raw.get("tier")
    if isinstance(raw, str) and raw.strip():
        return raw.strip().upper()
    return None


def limit_contacts(tier: str | None) -> int | None:
    """Contacts per 24 h of a tier; None for unlimited. Raises KeyError for a tier that is
    not known (the caller decides what an unknown tier means)."""
    if tier is None:
        raise KeyError("no tier")
    return TIER_CONTACTS[tier]


PHONE_PUNCTUATION = frozenset("+-(). ")


def digits(phone: str) -> str:
    """``+1 555-078-3881`` → ``15550783881``: display numbers compare on digits alone."""
    return "".join(c for c in phone if c.isdigit())


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Fact(_Frozen):
    """One phone number field as the gateway last gave it, and when it was read."""

    value: Any
    read_at: float


class ReadError(_Frozen):
    """The last read that failed: the gateway's error code and message, when."""

    at: float
    code: int | None = None
    message: str


class ClassChange(_Frozen):
    """A number moved from one class to another. ``id`` is ``<number>:<n>`` where n counts
    the number's changes: a receiver can drop a change it has seen."""

    id: str
    number: str
    before: HealthClass
    after: HealthClass
    at: float
    cause: str  # "daily", "webhook", "refresh", "activation"
    quality_rating: str | None = None
    status: str | None = None
    messaging_limit: str | None = None


class DailySnapshot(_Frozen):
    """A number's class on one local day (the last read of that day)."""

    day: str  # YYYY-MM-DD in the health time zone
    health: HealthClass
    quality_rating: str | None = None
    messaging_limit: str | None = None
    status: str | None = None
    checked_at: float


class HealthEvent(_Frozen):
    """A ``phone_number_quality_update`` or ``account_update`` webhook about a number, as
    received (event names not known to us are kept as they are)."""

    id: str  # digest of the change: a redelivered webhook has the same id
    number: str
    field: str
    event: str
    waba_id: str
    at: float  # the entry's time, or when we received it
    value: dict[str, Any] = Field(default_factory=dict)


def event_id(field: str, waba_id: str, at: float, value: dict[str, Any]) -> str:
    canonical = json.dumps([field, waba_id, at, value], sort_keys=True, separators=(",", ":"))
    return "ev_" + hashlib.sha256(canonical.encode()).hexdigest()[:24]


class NumberHealth(_Frozen):
    """A number's standing with the gateway: the phone number fields with the time each
    was read, the class they give, and when that class last changed."""

    number: str
    version: int = 0
    facts: dict[str, Fact] = Field(default_factory=dict)
    checked_at: float | None = None  # the last read that succeeded
    error: ReadError | None = None  # the last read, when it failed
    health: HealthClass = HealthClass.UNKNOWN
    changed_at: float | None = None
    changes: int = 0  # class changes so far (numbers the change ids)
    daily_on: str | None = None  # local day of the last daily read that succeeded
    waba_id: str | None = None  # the WhatsApp Business Account, as webhooks named it

    def value(self, field: str) -> Any:
        fact = self.facts.get(field)
        return None if fact is None else fact.value

    def text(self, field: str) -> str | None:
        v = self.value(field)
        return None if v is None else str(v)

    @property
    def quality_rating(self) -> str | None:
        return self.text("quality_rating")

    @property
    def status(self) -> str | None:
        return self.text("status")

    @property
    def messaging_limit(self) -> str | None:
        return limit_tier(self.value("whatsapp_business_manager_messaging_limit"))

    @property
    def change_id(self) -> str:
        """The id of the change that gave the number its class (``<number>:<n>``)."""
        return f"{self.number}:{self.changes}"

    def after_read(
        self, fields: dict[str, Any], *, at: float, cause: str, day: str | None = None
    ) -> tuple[NumberHealth, ClassChange | None]:
        """The record after a successful read of ``fields`` (the phone number node as the
        gateway answered it; fields it left out keep their earlier value). ``day``: the local
        day, when the read is that day's daily read."""
        facts = dict(self.facts)
        for name in PHONE_FIELDS:
            if name in fields:
                facts[name] = Fact(value=fields[name], read_at=at)
        health = class_of(facts["quality_rating"].value if "quality_rating" in facts else None)
        change = None
        update: dict[str, Any] = {"facts": facts, "checked_at": at, "error": None}
        if day is not None:
            update["daily_on"] = day
        if health != self.health:
            count = self.changes + 1
            update |= {"health": health, "changed_at": at, "changes": count}
        after = self.model_copy(update=update)
        if health != self.health:
            change = ClassChange(
                id=after.change_id,
                number=self.number,
                before=self.health,
                after=health,
                at=at,
                cause=cause,
                quality_rating=after.quality_rating,
                status=after.status,
                messaging_limit=after.messaging_limit,
            )
        return after, change

    def after_error(self, *, at: float, code: int | None, message: str) -> NumberHealth:
        """The record after a failed read: the facts and class stay as they were."""
        return self.model_copy(update={"error": ReadError(at=at, code=code, message=message)})

    def snapshot(self, day: str) -> DailySnapshot:
        assert self.checked_at is not None, "a snapshot follows a read"
        return DailySnapshot(
            day=day,
            health=self.health,
            quality_rating=self.quality_rating,
            messaging_limit=self.messaging_limit,
            status=self.status,
            checked_at=self.checked_at,
        )


# --------------------------------------------------------------------------- schedule
def local_day(at: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, zone).date().isoformat()


def parse_check_time(text: str) -> time:
    """``"06:00"`` → 06:00; raises ValueError for anything but ``HH:MM`` (00:00 to 23:59)."""
    hours, sep, minutes = text.partition(":")
    if (
        not sep
        or len(hours) != 2
        or len(minutes) != 2
        or not ((hours + minutes).isascii() and (hours + minutes).isdigit())
    ):
        raise ValueError(f"expected HH:MM, got {text!r}")
    return time(int(hours), int(minutes))


def check_time_on(day: date, at: time, zone: ZoneInfo) -> float:
    """The unix time of ``at`` on local ``day`` (a time skipped by a DST jump moves on)."""
    return datetime.combine(day, at, zone).timestamp()


def next_check(now: float, at: time, zone: ZoneInfo) -> float:
    """The first daily check time after ``now``."""
    today = datetime.fromtimestamp(now, zone).date()
    due = check_time_on(today, at, zone)
    return due if due > now else check_time_on(today + timedelta(days=1), at, zone)


def daily_due(now: float, at: time, zone: ZoneInfo) -> str | None:
    """The local day whose daily read is due at ``now`` (its check time has passed), or
    None before today's check time."""
    today = datetime.fromtimestamp(now, zone).date()
    return today.isoformat() if now >= check_time_on(today, at, zone) else None


def oldest_kept_day(today: str) -> str:
    """Snapshots before this day are dropped (``SNAPSHOT_DAYS`` days are kept)."""
    return (date.fromisoformat(today) - timedelta(days=SNAPSHOT_DAYS - 1)).isoformat()


# --------------------------------------------------------------------------- the table
class HealthRow(BaseModel):
    """One line of the health table (``GET /api/v1/health``)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    number: str
    name: str
    display_phone_number: str
    health: HealthClass = Field(alias="class")
    quality_rating: str | None
    messaging_limit: str | None
    status: str | None
    checked_at: float | None
    changed_at: float | None

    @classmethod
    def of(cls, number: str, config: dict[str, Any], health: NumberHealth | None) -> HealthRow:
        h = health or NumberHealth(number=number)
        display = str(config.get("display_phone_number") or h.text("display_phone_number") or "")
        return cls(
            number=number,
            name=str(config.get("name") or ""),
            display_phone_number=display,
            health=h.health,
            quality_rating=h.quality_rating,
            messaging_limit=h.messaging_limit,
            status=h.status,
            checked_at=h.checked_at,
            changed_at=h.changed_at,
        )

    def matches(self, q: str | None) -> bool:
        """``q`` found in the number, the display number or the name (ignoring case); a
        phone-like ``q`` (``+1 555-078``) is compared on its digits."""
        if not q or not q.strip():
            return True
        needle = q.strip().casefold()
        hay = (self.number, self.display_phone_number, self.name)
        if any(needle in h.casefold() for h in hay):
            return True
        wanted = digits(needle)
        phone_like = bool(wanted) and all(c.isdigit() or c in PHONE_PUNCTUATION for c in needle)
        return phone_like and any(wanted in digits(h) for h in hay[:2])


def counts(rows: Iterable[HealthRow]) -> dict[str, int]:
    found = {c.value: 0 for c in HealthClass}
    for r in rows:
        found[r.health.value] += 1
    return found


CSV_COLUMNS = (
    "number",
    "name",
    "display_phone_number",
    "class",
    "quality_rating",
    "messaging_limit",
    "status",
    "checked_at",
    "changed_at",
)


def _iso(at: float | None) -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _cell(text: str) -> str:
    """A name a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) is quoted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def health_csv(rows: Iterable[HealthRow]) -> str:
    """The table as CSV (a header line, times in ISO 8601 UTC)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.number,
                _cell(r.name),
                r.display_phone_number,
                r.health.value,
                r.quality_rating or "",
                r.messaging_limit or "",
                r.status or "",
                _iso(r.checked_at),
                _iso(r.changed_at),
            ]
        )
    return out.getvalue()
