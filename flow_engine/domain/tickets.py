"""Human-service tickets (PRODUCT §5, R-DESK-1; R-FLOW-7 to R-FLOW-9).

A :class:`Ticket` is one human-service session of a contact in a queue. It is
immutable: every change returns a new ticket, so a store can apply a change,
compare versions and retry. Statuses and the transitions between them::

    open()  ──► waiting ──assign()──► assigned ──assign(same attendant)──► assigned
                  │                      │
                  ├──────────────────────┴──► closed_by_attendant | closed_by_contact |
                  │                           closed_by_inactivity   (close())
                  └── transfer_to() ──► transferred  (+ a new waiting ticket in the target
                                                       queue, same priority)

The four closing statuses are final. Every transition and every message carries
its timestamp (seconds since the epoch).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flow_engine.errors import Conflict


class TicketStateError(Conflict):
    """A transition the ticket's status does not allow (HTTP 409)."""

    code = "invalid_ticket_transition"


class TicketStatus(StrEnum):
    WAITING = "waiting"
    ASSIGNED = "assigned"
    CLOSED_BY_ATTENDANT = "closed_by_attendant"
    CLOSED_BY_CONTACT = "closed_by_contact"
    CLOSED_BY_INACTIVITY = "closed_by_inactivity"
    TRANSFERRED = "transferred"


OPEN_STATUSES = frozenset({TicketStatus.WAITING, TicketStatus.ASSIGNED})
CLOSING_STATUSES = frozenset(set(TicketStatus) - OPEN_STATUSES)

Sender = Literal["contact", "attendant", "bot", "notification"]


def ticket_id_for(number: str, contact: str, cause: str) -> str:
    """A deterministic ticket id: the same (number, contact, cause) always gives the same
    id, so opening a ticket again for the same cause (a retried message) finds it."""
    digest = hashlib.sha256(f"{number}\x1f{contact}\x1f{cause}".encode()).hexdigest()
    return "t_" + digest[:20]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class TicketMessage(_Frozen):
    """One message of the transcript."""

    id: str
    at: float
    sender: Sender
    text: str
    attendant: str | None = None
    kind: str = "text"
    media: dict[str, Any] | None = None


class TicketTransition(_Frozen):
    """A status the ticket entered, when, and who caused it (None: the contact or the bot)."""

    at: float
    status: TicketStatus
    by: str | None = None


class Ticket(_Frozen):
    """One human-service session of a contact on a number, in a queue.

    ``attendants`` are the e-mails the ticket is offered to; ``version`` grows by one
    on every save (the store sets it).
    """

    id: str
    number: str
    contact: str
    contact_name: str = ""
    queue: str
    attendants: list[str] = Field(default_factory=list)
    status: TicketStatus = TicketStatus.WAITING
    attendant: str | None = None
    priority: int = 0
    created_at: float
    updated_at: float
    assigned_at: float | None = None
    closed_at: float | None = None
    last_activity_at: float
    transferred_from: str | None = None
    transferred_to: str | None = None
    transitions: list[TicketTransition] = Field(default_factory=list)
    transcript: list[TicketMessage] = Field(default_factory=list)
    #: the extras of the notification the contact replied to (shown to the attendant)
    extras: dict[str, str] = Field(default_factory=dict)
    #: the notification that opened the ticket (``n:<id>`` / ``c:<campaign>:<index>``)
    notification: str | None = None
    #: the number's IANA time zone when the ticket opened: the local days its data
    #: facts count in (``domain/facts.py``)
    timezone: str = "UTC"
    version: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def open(
        cls,
        *,
        id: str,
        number: str,
        contact: str,
        contact_name: str,
        queue: str,
        attendants: list[str],
        priority: int = 0,
        now: float,
        transferred_from: str | None = None,
        extras: dict[str, str] | None = None,
        notification: str | None = None,
        timezone: str = "UTC",
    ) -> Ticket:
        """A new ticket, waiting in ``queue``."""
        return cls(
            id=id,
            number=number,
            contact=contact,
            contact_name=contact_name,
            queue=queue,
            attendants=list(attendants),
            priority=priority,
            created_at=now,
            updated_at=now,
            last_activity_at=now,
            transferred_from=transferred_from,
            transitions=[TicketTransition(at=now, status=TicketStatus.WAITING)],
            extras=dict(extras or {}),
            notification=notification,
            timezone=timezone,
        )

    def _refuse(self, action: str, reason: str) -> TicketStateError:
        """A 409 whose details say what the ticket is now: its ``status`` and its
        ``attendant`` (who holds it, when another attendant is refused; else None)."""
        return TicketStateError(
            f"cannot {action} ticket {self.id}: {reason}",
            details={
                "ticket_id": self.id,
                "status": self.status.value,
                "attendant": self.attendant,
                "action": action,
            },
        )

    def _enter(self, status: TicketStatus, now: float, by: str | None, **update: Any) -> Ticket:
        transition = TicketTransition(at=now, status=status, by=by)
        return self.model_copy(
            update={
                "status": status,
                "updated_at": now,
                "transitions": [*self.transitions, transition],
                **update,
            }
        )

    def with_message(
        self,
        message_id: str,
        sender: Sender,
        text: str,
        now: float,
        attendant: str | None = None,
        kind: str = "text",
        media: dict[str, Any] | None = None,
    ) -> Ticket:
        """Append a message to the transcript. Idempotent: a message id already in the
        transcript returns the ticket unchanged. Refused once the ticket is closed."""
        if any(m.id == message_id for m in self.transcript):
            return self
        if not self.is_open:
            raise self._refuse("add a message to", f"it is {self.status.value}")
        message = TicketMessage(
            id=message_id,
            at=now,
            sender=sender,
            text=text,
            attendant=attendant,
            kind=kind,
            media=media,
        )
        return self.model_copy(
            update={
                "transcript": [*self.transcript, message],
                "updated_at": now,
                "last_activity_at": now,
            }
        )

    def check_holder(self, action: str, by: str | None) -> None:
        """An attendant (``by``) acts on an assigned ticket only if they hold it: closing
        or transferring another's would cut their service short. ``None`` (the super-admin
        acting as nobody) may."""
        if by is not None and self.status == TicketStatus.ASSIGNED and self.attendant != by:
            raise self._refuse(action, "it is assigned to another attendant")

    def with_answer(self, message_id: str, text: str, now: float, attendant: str) -> Ticket:
        """An attendant's answer: only by the attendant the ticket is assigned to (a waiting
        ticket is taken first), so two attendants never answer one contact unawares.
        Idempotent like :meth:`with_message` — for the same attendant only: another one
        replaying the key would be told their answer was sent."""
        sent = next((m for m in self.transcript if m.id == message_id), None)
        if sent is not None:
            if sent.attendant != attendant:
                raise self._refuse("answer", "this Idempotency-Key is another attendant's answer")
            return self
        if self.status == TicketStatus.WAITING:
            raise self._refuse("answer", "it is waiting: take it first")
        self.check_holder("answer", attendant)
        return self.with_message(message_id, "attendant", text, now, attendant=attendant)

    def assign(self, attendant: str, now: float) -> Ticket:
        """waiting → assigned. Taking it again as the same attendant changes nothing;
        another attendant is refused."""
        if self.status == TicketStatus.ASSIGNED:
            if self.attendant == attendant:
                return self
            raise self._refuse("take", "it is assigned to another attendant")
        if self.status != TicketStatus.WAITING:
            raise self._refuse("take", f"it is {self.status.value}")
        return self._enter(
            TicketStatus.ASSIGNED,
            now,
            attendant,
            attendant=attendant,
            assigned_at=now,
            last_activity_at=now,
        )

    def close(self, status: TicketStatus, now: float, by: str | None = None) -> Ticket:
        """waiting/assigned → one of the closing statuses (final)."""
        if status not in CLOSING_STATUSES:
            raise ValueError(f"{status!r} is not a closing status")
        if not self.is_open:
            raise self._refuse("close", f"it is already {self.status.value}")
        return self._enter(status, now, by, closed_at=now)

    def transfer_to(
        self,
        new_id: str,
        *,
        queue: str,
        attendants: list[str],
        now: float,
        by: str | None = None,
    ) -> tuple[Ticket, Ticket]:
        """Close this ticket as transferred and open its successor, waiting in ``queue``
        with the same priority. Returns ``(closed old ticket, new ticket)``."""
        if not self.is_open:
            raise self._refuse("transfer", f"it is already {self.status.value}")
        old = self.close(TicketStatus.TRANSFERRED, now, by).model_copy(
            update={"transferred_to": new_id}
        )
        new = Ticket.open(
            id=new_id,
            number=self.number,
            contact=self.contact,
            contact_name=self.contact_name,
            queue=queue,
            attendants=attendants,
            priority=self.priority,
            now=now,
            transferred_from=self.id,
            extras=self.extras,
            notification=self.notification,
            timezone=self.timezone,
        )
        return old, new
