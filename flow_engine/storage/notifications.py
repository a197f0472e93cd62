"""The notification store (R-NOTIFY-1…4): template catalogs, individual notifications,
campaigns and their recipients, the messaging-limit window and the reply index.

Two backends: ``memory_notifications.py`` and ``redis_notifications.py``; one contract
test suite (``tests/notify/test_store_contract.py``) runs on both. What is atomic:

- :meth:`NotificationStore.create` stores a notification with its idempotency key: a
  retried POST with the same key finds the first one;
- :meth:`NotificationStore.claim_recipients` takes recipients off a lane's queue, marks
  them in flight (with a deadline) and counts them against the lane's batch, in one step;
- :meth:`NotificationStore.apply` moves notifications and recipients forward (never
  back) and keeps the campaign's counts, one recipient counted once in its furthest
  status, in the same step as the change;
- :meth:`NotificationStore.reach` checks and records the contacts a number reaches in
  the rolling 24 h window together, so two senders cannot both take the last slot.

A recipient is one compact record (``Recipient.encode``: about 100 bytes plus the row's
values while they are still needed), so a campaign of 100,000 costs tens of MB at most.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from flow_engine.domain.campaigns import Campaign
from flow_engine.domain.notifications import Notification, NotificationStatus, moves
from flow_engine.domain.templates import CatalogTemplate

#: rows written per round trip while a campaign is created (never one huge Lua call)
CREATE_CHUNK = 2000
#: how long the keys of a campaign being created live unless its creation completes
CREATING_TTL_S = 3600
LIST_LIMIT_MAX = 500

LETTER = {
    "pending": "p",
    "sent": "s",
    "delivered": "d",
    "read": "r",
    "failed": "f",
    "replied": "y",
}
STATUS_OF = {v: k for k, v in LETTER.items()}
TIME_FIELDS = ("sent_at", "delivered_at", "read_at", "failed_at", "replied_at")
VALUE_SEP = "\x1f"


def _t(value: str) -> float | None:
    return float(value) if value else None


def _ts(value: float | None) -> str:
    return "" if value is None else str(int(value))


@dataclass(frozen=True)
class Recipient:
    """One recipient of a campaign. ``index`` is its place in the frozen audience."""

    index: int
    phone: str
    sender: str
    status: str = "pending"
    wamid: str = ""
    sent_at: float | None = None
    delivered_at: float | None = None
    read_at: float | None = None
    failed_at: float | None = None
    replied_at: float | None = None
    error_code: int | None = None
    replied_by: str = ""
    values: tuple[str, ...] = ()

    def encode(self) -> str:
        """``status|phone|sender|wamid|sent|delivered|read|failed|replied|code|replied_by|
        values`` (values joined by U+001F; the Lua scripts read the same fields)."""
        return "|".join(
            [
                LETTER[self.status],
                self.phone,
                self.sender,
                self.wamid,
                *(_ts(getattr(self, f)) for f in TIME_FIELDS),
                "" if self.error_code is None else str(self.error_code),
                self.replied_by,
                VALUE_SEP.join(self.values),
            ]
        )

    @classmethod
    def decode(cls, index: int, raw: bytes | str) -> Recipient:
        text = raw.decode() if isinstance(raw, bytes) else raw
        parts = text.split("|", 11)
        parts += [""] * (12 - len(parts))
        return cls(
            index=index,
            status=STATUS_OF[parts[0]],
            phone=parts[1],
            sender=parts[2],
            wamid=parts[3],
            sent_at=_t(parts[4]),
            delivered_at=_t(parts[5]),
            read_at=_t(parts[6]),
            failed_at=_t(parts[7]),
            replied_at=_t(parts[8]),
            error_code=int(parts[9]) if parts[9] else None,
            replied_by=parts[10],
            values=tuple(parts[11].split(VALUE_SEP)) if parts[11] else (),
        )


IMPLIED = {
    "sent": ("sent_at",),
    "delivered": ("sent_at", "delivered_at"),
    "read": ("sent_at", "delivered_at", "read_at"),
    "failed": ("failed_at",),
    "replied": ("replied_at",),
}


def apply_to(
    rec: Recipient,
    status: str,
    at: float,
    *,
    wamid: str = "",
    code: int | None = None,
    replied_by: str = "",
    keep_values: bool = True,
) -> Recipient:
    """The recipient after ``status`` at ``at`` (the same rules as the Lua script)."""
    changes: dict[str, Any] = {}
    moved = moves(NotificationStatus(rec.status), NotificationStatus(status))
    if moved:
        changes["status"] = status
        if status == "replied":
            changes["replied_by"] = replied_by
    if status == "failed" and not moved:
        return rec  # a failure after a delivery leaves no trace (it did not fail)
    for name in IMPLIED.get(status, ()):
        if getattr(rec, name) is None:
            changes[name] = float(int(at))
    if wamid and not rec.wamid:
        changes["wamid"] = wamid
    if status == "failed" and code is not None and rec.error_code is None:
        changes["error_code"] = code
    if not keep_values and rec.values and status != "pending":
        changes["values"] = ()
    return replace(rec, **changes) if changes else rec


@dataclass(frozen=True)
class StatusChange:
    """A status to apply: to an individual notification (``ref`` ``n:<id>``) or a campaign
    recipient (``c:<campaign>:<index>``)."""

    ref: str
    status: str
    at: float
    wamid: str = ""
    code: int | None = None
    title: str = ""
    replied_by: str = ""  # with ``replied``: the inbound message id that replied


@dataclass(frozen=True)
class Transition:
    """A status change that happened (for metrics): ``before`` → ``after``."""

    ref: str
    before: str
    after: str


@dataclass
class Claimed:
    """Recipients taken off a lane: ``wait_until`` is set when the lane may not send yet
    (its next batch, a scheduled start)."""

    recipients: list[Recipient] = field(default_factory=list)
    wait_until: float | None = None


@dataclass(frozen=True)
class ReplyRef:
    """What the reply index holds for (number, contact): the last notification sent."""

    ref: str
    sent_at: float


class NotificationStore(ABC):
    """Everything active notifications keep."""

    # ------------------------------------------------------------------- catalog
    @abstractmethod
    async def save_catalog(
        self, number: str, templates: builtins.list[CatalogTemplate], synced_at: float
    ) -> None:
        """Replace the number's template catalog (as read from its WABA)."""

    @abstractmethod
    async def catalog(self, number: str) -> tuple[builtins.list[CatalogTemplate], float | None]:
        """The number's catalog and when it was synced (None: never)."""

    # ------------------------------------------------------- individual notifications
    @abstractmethod
    async def create(
        self, notification: Notification, idempotency_key: str | None, due: float
    ) -> tuple[Notification, bool]:
        """Store a new pending notification, due to be sent at ``due``, unless
        ``idempotency_key`` (scoped to the number) names one already: then return that one
        and False. Atomic."""

    @abstractmethod
    async def get(self, notification_id: str) -> Notification | None: ...

    @abstractmethod
    async def list(
        self,
        number: str,
        *,
        status: str | None = None,
        template: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Notification]:
        """The number's notifications, newest first, filtered."""

    @abstractmethod
    async def claim(self, notification_id: str, owner: str, ttl_ms: int) -> bool:
        """Before a send attempt: True when ``owner`` may send for ``ttl_ms`` (the
        notification is pending and nobody else holds a live claim)."""

    @abstractmethod
    async def settle(
        self, notification_id: str, fields: dict[str, Any], due: float | None
    ) -> Notification | None:
        """After a send attempt: merge ``fields`` (wamid, error, attempts…), let the status
        move forward only, drop the claim, and either put the notification due again at
        ``due`` or (None) take it off the due set."""

    @abstractmethod
    async def due(self, now: float, limit: int = 50) -> builtins.list[str]:
        """Ids of pending notifications due by ``now`` (a send lost or to retry)."""

    # ----------------------------------------------------------------- statuses
    @abstractmethod
    async def apply(self, changes: Sequence[StatusChange]) -> builtins.list[Transition]:
        """Move each named notification or recipient forward (a repeat or a status behind
        the current one changes nothing; timestamps a status implies are filled), keeping
        the campaigns' counts. Unknown refs are ignored. Returns the transitions made."""

    # ---------------------------------------------------------------- replies
    @abstractmethod
    async def remember(self, number: str, contacts: dict[str, str], at: float) -> None:
        """Record, for each contact, the notification ref last sent to it by ``number``
        (for :data:`~flow_engine.domain.notifications.REPLY_WINDOW_S`)."""

    @abstractmethod
    async def reply_ref(self, number: str, contact: str, now: float) -> ReplyRef | None:
        """The notification last sent to ``contact`` by ``number`` within the window."""

    @abstractmethod
    async def mark_replied(self, ref: str, message_id: str, at: float) -> bool:
        """Mark the notification replied by ``message_id``: True when this message is its
        reply (the first, or the same message handled again), False otherwise."""

    # --------------------------------------------------------------- sending limits
    @abstractmethod
    async def reach(
        self, number: str, contacts: builtins.list[str], limit: int | None, now: float
    ) -> tuple[builtins.list[bool], float | None]:
        """Record that ``number`` reaches ``contacts`` now, as far as its messaging limit
        allows: contacts reached in the last 24 h are free, new ones take a slot while
        fewer than ``limit`` are used. Returns which contacts may be sent to and, when some
        may not, when the oldest slot frees. ``limit`` None: no limit. Atomic."""

    @abstractmethod
    async def reserve(self, number: str, per_second: float, share: float, n: int) -> float:
        """Reserve ``n`` send slots for business-initiated sends of ``number``: on the
        per-number limiter shared with replies (at ``per_second``) and on the number's
        notification lane (at ``per_second * share``). Returns the seconds to wait before
        the first; the others follow every ``1 / (per_second * share)`` s."""

    # --------------------------------------------------------------- campaigns
    @abstractmethod
    async def add_recipients(
        self, campaign_id: str, lane: str, chunk: builtins.list[Recipient]
    ) -> None:
        """Write one chunk of a campaign being created (its keys expire unless
        :meth:`create_campaign` follows)."""

    @abstractmethod
    async def create_campaign(self, campaign: Campaign, lanes: dict[str, float]) -> None:
        """Make a campaign whose recipients were written visible: its document, counts,
        lanes (sender → first send time) and indexes, in one step."""

    @abstractmethod
    async def campaign(self, campaign_id: str) -> Campaign | None: ...

    @abstractmethod
    async def campaigns(
        self,
        *,
        number: str | None = None,
        state: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Campaign]:
        """Newest first; ``number`` matches a campaign sending from it."""

    @abstractmethod
    async def active(self) -> builtins.list[str]:
        """Ids of campaigns a driver should work on (scheduled, running, waiting_limit)."""

    @abstractmethod
    async def transition(
        self,
        campaign_id: str,
        allowed: set[str],
        state: str,
        fields: dict[str, Any],
        *,
        marks: Sequence[str] = (),
    ) -> Campaign | None:
        """Set the campaign's state (and ``fields`` of its document) if its state is one of
        ``allowed``; None (nothing written) otherwise. Entering ``cancelled`` counts the
        recipients never sent as skipped. With ``marks`` (what causes the transition: the
        id of a number's change to bad), nothing is written either when the campaign's
        ``held_by`` holds every mark already; otherwise they are added to it. Atomic: the
        state, the marks and the write are one step."""

    @abstractmethod
    async def counts(self, campaign_id: str) -> dict[str, int]: ...

    @abstractmethod
    async def lanes(self, campaign_id: str) -> dict[str, dict[str, float]]:
        """Per sender: ``next_at`` (no send before), ``left`` (in the current batch),
        ``todo`` (recipients not yet taken), ``inflight``."""

    @abstractmethod
    async def set_lane(self, campaign_id: str, lane: str, next_at: float) -> None:
        """No send of the lane before ``next_at`` (the messaging limit's window, a 130429)."""

    @abstractmethod
    async def claim_recipients(
        self,
        campaign_id: str,
        lane: str,
        n: int,
        now: float,
        deadline: float,
        batch_size: int | None = None,
        batch_interval_s: float = 0.0,
    ) -> Claimed:
        """Take up to ``n`` recipients off the lane's queue, in order, in flight until
        ``deadline``; with ``batch_size``, at most what is left of the current batch, and
        once the batch is spent the lane waits ``batch_interval_s``. Recipients that
        already have a status (a status webhook came first) are dropped, not returned."""

    @abstractmethod
    async def requeue(
        self, campaign_id: str, lane: str, recipients: builtins.list[Recipient], *, front: bool
    ) -> None:
        """Put claimed recipients back on the lane's queue (front: next; else last)."""

    @abstractmethod
    async def recover(self, campaign_id: str, now: float) -> int:
        """Put recipients whose claim deadline passed (their driver died) back at the front
        of their lane; returns how many."""

    @abstractmethod
    async def finish(
        self,
        campaign_id: str,
        results: builtins.list[tuple[Recipient, StatusChange]],
        keep_values: bool,
    ) -> builtins.list[Transition]:
        """After sends: apply each result to its claimed recipient and take it out of flight
        (``keep_values``: keep the row's values for the reply's ticket)."""

    @abstractmethod
    async def recipients(
        self, campaign_id: str, *, status: str | None = None, offset: int = 0, limit: int = 100
    ) -> tuple[builtins.list[Recipient], int | None]:
        """Recipients in audience order from position ``offset``, filtered by ``status``;
        returns the page and the offset to read next (None at the end)."""

    @abstractmethod
    async def recipient(self, campaign_id: str, index: int) -> Recipient | None: ...

    @abstractmethod
    async def error_titles(self, campaign_id: str) -> dict[int, str]:
        """The title of each error code met by the campaign's recipients."""

    @abstractmethod
    async def acquire(self, campaign_id: str, owner: str, ttl_ms: int) -> bool:
        """Lease a campaign to one driver (like the partitions); True when ``owner`` holds it."""

    @abstractmethod
    async def release(self, campaign_id: str, owner: str) -> None: ...
