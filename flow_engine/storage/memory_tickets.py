"""Tickets in this process, stored as JSON like the other memory stores."""

from __future__ import annotations

import builtins
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from flow_engine.domain.facts import ticket_facts
from flow_engine.domain.tickets import Ticket
from flow_engine.storage.memory_backend import MemoryBackend
from flow_engine.storage.memory_rollups import state_of
from flow_engine.storage.tickets import (
    LIST_LIMIT_MAX,
    SCAN_BATCH,
    TicketStore,
    matches,
    open_ticket_exists,
)


@dataclass
class _TicketState:
    docs: dict[str, str] = field(default_factory=dict)  # id -> ticket JSON
    open: dict[tuple[str, str], str] = field(default_factory=dict)  # (number, contact) -> id


# one state per backend, so every MemoryTickets built on a backend sees the same tickets
_STATES: weakref.WeakKeyDictionary[MemoryBackend, _TicketState] = weakref.WeakKeyDictionary()


class MemoryTickets(TicketStore):
    def __init__(self, b: MemoryBackend) -> None:
        self.s = _STATES.setdefault(b, _TicketState())
        self.rollups = state_of(b)

    def _load(self, ticket_id: str) -> Ticket | None:
        raw = self.s.docs.get(ticket_id)
        return None if raw is None else Ticket.model_validate_json(raw)

    async def create(self, ticket: Ticket) -> Ticket:
        stored = self._load(ticket.id)
        if stored is not None:
            return stored
        conv = (ticket.number, ticket.contact)
        if ticket.is_open:
            holder = self.s.open.get(conv)
            if holder is not None:
                raise open_ticket_exists(ticket, holder)
            self.s.open[conv] = ticket.id
        self.s.docs[ticket.id] = ticket.model_dump_json()
        self.rollups.apply(ticket_facts(None, ticket))
        return ticket

    async def get(self, ticket_id: str) -> Ticket | None:
        return self._load(ticket_id)

    async def open_for(self, number: str, contact: str) -> Ticket | None:
        ticket_id = self.s.open.get((number, contact))
        return None if ticket_id is None else self._load(ticket_id)

    async def _save(self, before: Ticket, after: Ticket) -> bool:
        stored = self._load(before.id)
        if stored is None or stored.version != before.version:
            return False
        self.s.docs[after.id] = after.model_dump_json()
        conv = (after.number, after.contact)
        if not after.is_open and self.s.open.get(conv) == after.id:
            del self.s.open[conv]
        self.rollups.apply(ticket_facts(stored, after))
        return True

    async def list(
        self,
        number: str | None = None,
        queue: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Ticket]:
        limit = max(0, min(limit, LIST_LIMIT_MAX))
        found = [
            t
            for t in (Ticket.model_validate_json(raw) for raw in self.s.docs.values())
            if matches(t, number, queue, status)
        ]
        found.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return found[max(0, offset) : max(0, offset) + limit]

    async def scan(
        self, number: str, since: float, until: float, batch: int = SCAN_BATCH
    ) -> AsyncIterator[Ticket]:
        found = [
            t
            for t in (Ticket.model_validate_json(raw) for raw in self.s.docs.values())
            if t.number == number and since <= t.created_at < until
        ]
        found.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        for t in found:
            yield t

    async def purge(self, closed_before: float, limit: int = SCAN_BATCH) -> int:
        gone = []
        for ticket_id, raw in self.s.docs.items():
            t = Ticket.model_validate_json(raw)
            if t.closed_at is not None and t.closed_at < closed_before:
                gone.append(ticket_id)
                if len(gone) >= limit:
                    break
        for ticket_id in gone:
            del self.s.docs[ticket_id]
        return len(gone)
