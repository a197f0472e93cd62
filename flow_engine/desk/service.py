"""The attendant actions (R-DESK-2): list, read, take, answer, transfer and close
tickets."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from flow_engine.domain.tickets import (
    Ticket,
    TicketMessage,
    TicketStateError,
    TicketStatus,
    ticket_id_for,
)
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.engine.events import DESK_MESSAGE, TICKET_CLOSED, TICKET_TRANSFERRED, post_event
from flow_engine.errors import NotFound, UnprocessableEntity
from flow_engine.storage.base import Storage
from flow_engine.storage.tickets import TicketStore


@dataclass
class DeskService:
    """The attendant actions on the tickets of every number. Every action the contact
    must see is queued as an event of the conversation (``engine/events.py``), so it is
    handled in order with the contact's own messages; event ids derive from the ticket
    (and the caller's idempotency key), so a retried action never posts twice."""

    storage: Storage
    configs: ConfigCache
    partitions: int
    clock: Callable[[], float] = time.time

    @property
    def tickets(self) -> TicketStore:
        return self.storage.tickets

    async def _post(self, ticket: Ticket, event: str, data: dict[str, Any], event_id: str) -> None:
        await post_event(
            self.storage, self.partitions, ticket.number, ticket.contact, event, data, event_id
        )

    async def get(self, ticket_id: str) -> Ticket:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound(f"ticket {ticket_id} not found", details={"ticket_id": ticket_id})
        return ticket

    async def list(
        self,
        numbers: Collection[str] | None,
        queue: str | None = None,
        status: TicketStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Ticket]:
        """Tickets of ``numbers`` (None: every number) matching the filters, newest
        first, ``offset`` skipped."""
        state = None if status is None else status.value
        if numbers is None:
            return await self.tickets.list(None, queue, state, limit, offset)
        if len(numbers) == 1:
            (number,) = numbers
            return await self.tickets.list(number, queue, state, limit, offset)
        found: builtins.list[Ticket] = []  # the newest of every number, merged
        for number in sorted(numbers):
            found.extend(await self.tickets.list(number, queue, state, limit + offset, 0))
        found.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return found[offset : offset + limit]

    async def take(self, ticket_id: str, attendant: str) -> Ticket:
        now = self.clock()
        return await self.tickets.update(ticket_id, lambda t: t.assign(attendant, now))

    async def answer(
        self, ticket_id: str, message_id: str, text: str, attendant: str
    ) -> tuple[Ticket, TicketMessage]:
        now = self.clock()
        ticket = await self.tickets.update(
            ticket_id,
            lambda t: t.with_answer(message_id, text, now, attendant),
        )
        # a replayed Idempotency-Key finds the message stored the first time
        message = next(m for m in ticket.transcript if m.id == message_id)
        data = {"ticket_id": ticket.id, "text": message.text, "attendant": message.attendant}
        await self._post(ticket, DESK_MESSAGE, data, f"{ticket.id}:msg:{message_id}")
        return ticket, message

    async def transfer(self, ticket_id: str, queue: str, by: str | None) -> tuple[Ticket, Ticket]:
        ticket = await self.get(ticket_id)
        config = await self.configs.get(ticket.number)
        attendants = None if config is None else config.queue_attendants(queue)
        if config is None or attendants is None:
            raise UnprocessableEntity(
                "unknown queue",
                details=[
                    {
                        "field": "queue",
                        "message": f"number {ticket.number} has no queue named {queue!r}",
                        "type": "unknown_queue",
                    }
                ],
            )
        name = next(q for q in config.queue_names() if q.casefold() == queue.strip().casefold())
        new_id = ticket_id_for(ticket.number, ticket.contact, f"transfer:{ticket.id}")
        now = self.clock()

        def change(t: Ticket) -> Ticket:
            t.check_holder("transfer", by)
            return t.transfer_to(new_id, queue=name, attendants=attendants, now=now, by=by)[0]

        try:
            old = await self.tickets.update(ticket_id, change)
        except TicketStateError:
            stored = await self.tickets.get(ticket_id)
            if stored is not None and stored.transferred_to == new_id:
                await self._finish_transfer(stored, name, attendants)  # a retry: repair
            raise
        return old, await self._finish_transfer(old, name, attendants)

    async def _finish_transfer(
        self, old: Ticket, queue: str, attendants: builtins.list[str]
    ) -> Ticket:
        """Open the successor of a ticket closed as transferred (idempotent) and tell the
        conversation."""
        if old.transferred_to is None or old.closed_at is None:
            raise ValueError(f"ticket {old.id} was not transferred")
        new = await self.tickets.create(
            Ticket.open(
                id=old.transferred_to,
                number=old.number,
                contact=old.contact,
                contact_name=old.contact_name,
                queue=queue,
                attendants=attendants,
                priority=old.priority,
                now=old.closed_at,
                transferred_from=old.id,
                extras=old.extras,  # a notification's extras follow the contact
                notification=old.notification,
                timezone=old.timezone,
            )
        )
        data = {"ticket_id": old.id, "new_ticket_id": new.id}
        await self._post(old, TICKET_TRANSFERRED, data, f"{old.id}:transferred")
        return new

    async def close(self, ticket_id: str, by: str | None, *, by_contact: bool = False) -> Ticket:
        now = self.clock()
        status = TicketStatus.CLOSED_BY_CONTACT if by_contact else TicketStatus.CLOSED_BY_ATTENDANT

        def change(t: Ticket) -> Ticket:
            t.check_holder("close", by)
            return t.close(status, now, by)

        try:
            ticket = await self.tickets.update(ticket_id, change)
        except TicketStateError:
            stored = await self.tickets.get(ticket_id)
            if stored is not None and stored.status == status:  # a retry: repost, then 409
                await self._post(
                    stored, TICKET_CLOSED, {"ticket_id": stored.id}, f"{ticket_id}:closed"
                )
            raise
        await self._post(ticket, TICKET_CLOSED, {"ticket_id": ticket.id}, f"{ticket_id}:closed")
        return ticket
