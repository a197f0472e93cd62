"""The outbox: replies committed with their conversation, waiting to be sent.

An entry that failed for a reason worth retrying is not retried at once by whoever holds
it: its retry is *scheduled* — :meth:`Outbox.schedule_retry` keeps, beside the entry, when
its next attempt is due, how many attempts failed and when the first was made — and the
sender moves on. The state stays with the entry until it is completed, so a process that
takes the partition over waits for the same due time and counts the same retry budget."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from flow_engine.domain.facts import Facts


@dataclass(frozen=True)
class OutboxItem:
    """A reply to send: ``kind`` is ``send`` (``message`` is an OutboundMessage as JSON)
    or ``read`` (mark ``message["message_id"]`` as read). ``source`` says who speaks, for
    the message volume (R-DATA): ``bot``, ``attendant`` or ``notification``."""

    number: str
    contact: str
    key: str  # idempotency key: "<inbound message id>:<step>"
    kind: str
    message: dict[str, Any]
    source: str = "bot"


@dataclass(frozen=True)
class SendClaim:
    """A send claim taken for ``owner`` (one partition worker) for ``ttl_ms``: while it
    holds, no other owner sends the entry (:meth:`Outbox.claim`)."""

    owner: str
    ttl_ms: int


@dataclass(frozen=True)
class OutboxEntry:
    """An outbox entry with its retry state: ``due`` is when its next attempt may be made
    (unix seconds; 0: at once), ``attempts`` how many attempts failed so far, and
    ``first_try`` when the first was made (0: never tried; the retry budget counts from it).
    ``claimed_at`` is when (this process's monotonic clock) the commit that appended it
    also took its send claim (:class:`SendClaim`), 0 when it did not: the first attempt
    can then skip :meth:`Outbox.claim`."""

    id: str
    partition: int
    item: OutboxItem
    due: float = 0.0
    attempts: int = 0
    first_try: float = 0.0
    claimed_at: float = 0.0


class Outbox(ABC):
    @abstractmethod
    async def pending(self, partition: int) -> list[OutboxEntry]:
        """Every unsent outbox entry of the partition, oldest first, with its retry state."""

    @abstractmethod
    async def was_sent(self, partition: int, key: str) -> bool: ...

    @abstractmethod
    async def claim(self, entry: OutboxEntry, owner: str, ttl_ms: int) -> str:
        """Before each send attempt: ``"ok"`` (``owner`` may send for ``ttl_ms``),
        ``"sent"`` (already sent: skip) or ``"busy"`` (another process is sending it)."""

    @abstractmethod
    async def schedule_retry(self, entry: OutboxEntry) -> None:
        """Keep ``entry``'s retry state (``due``, ``attempts``, ``first_try``) with it until
        it is completed: :meth:`pending` returns it. Nothing is kept for an entry already
        completed."""

    @abstractmethod
    async def complete(
        self, entry: OutboxEntry, gateway_id: str | None, facts: Facts | None = None
    ) -> None:
        """Mark the entry's key as sent (for the dedupe TTL), drop its claim and retry
        state, remove it; when this call removed it, append ``facts`` to the partition's
        fact stream in the same step (a repeated completion records nothing twice)."""

    @abstractmethod
    async def depth(self) -> int: ...
