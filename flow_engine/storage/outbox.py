"""The outbox: replies committed with their conversation, waiting to be sent."""

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
class OutboxEntry:
    id: str
    partition: int
    item: OutboxItem


class Outbox(ABC):
    @abstractmethod
    async def pending(self, partition: int) -> list[OutboxEntry]:
        """Every unsent outbox entry of the partition, oldest first."""

    @abstractmethod
    async def was_sent(self, partition: int, key: str) -> bool: ...

    @abstractmethod
    async def claim(self, entry: OutboxEntry, owner: str, ttl_ms: int) -> str:
        """Before each send attempt: ``"ok"`` (``owner`` may send for ``ttl_ms``),
        ``"sent"`` (already sent: skip) or ``"busy"`` (another process is sending it)."""

    @abstractmethod
    async def complete(
        self, entry: OutboxEntry, gateway_id: str | None, facts: Facts | None = None
    ) -> None:
        """Mark the entry's key as sent (for the dedupe TTL), drop its claim, remove it;
        when this call removed it, append ``facts`` to the partition's fact stream in the
        same step (a repeated completion records nothing twice)."""

    @abstractmethod
    async def depth(self) -> int: ...
