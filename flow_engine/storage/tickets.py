"""The ticket store (R-DESK-1): tickets as versioned JSON documents, indexed by number,
status and the contact's open ticket. Two backends: ``memory_tickets.py`` and
``redis_tickets.py``; one contract test suite runs on both."""

from __future__ import annotations

import asyncio
import builtins
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable

from flow_engine.domain.tickets import Ticket, TicketStateError
from flow_engine.errors import NotFound, VersionConflict

#: Attempts of :meth:`TicketStore.update` before it gives up with VersionConflict.
UPDATE_ATTEMPTS = 10
LIST_LIMIT_MAX = 500
#: tickets read at a time by :meth:`TicketStore.scan` and :meth:`TicketStore.purge`
SCAN_BATCH = 200


def ticket_not_found(ticket_id: str) -> NotFound:
    return NotFound(f"ticket {ticket_id} not found", details={"ticket_id": ticket_id})


def open_ticket_exists(ticket: Ticket, holder: str) -> TicketStateError:
    return TicketStateError(
        f"contact already has an open ticket ({holder}) on this number",
        details={"ticket_id": ticket.id, "open_ticket_id": holder},
    )


def check_same_ticket(before: Ticket, after: Ticket) -> None:
    for name in ("id", "number", "contact", "created_at"):
        if getattr(before, name) != getattr(after, name):
            raise ValueError(f"a ticket change may not alter {name}")


def matches(ticket: Ticket, number: str | None, queue: str | None, status: str | None) -> bool:
    """Whether ``ticket`` passes the filters of :meth:`TicketStore.list` (queue names
    compare ignoring case, as in the configuration)."""
    return (
        (number is None or ticket.number == number)
        and (queue is None or ticket.queue.casefold() == queue.casefold())
        and (status is None or ticket.status.value == status)
    )


class TicketStore(ABC):
    """Tickets of every number. Ordering of lists: newest ``created_at`` first (ties by
    id, descending)."""

    @abstractmethod
    async def create(self, ticket: Ticket) -> Ticket:
        """Save a new ticket; if its id exists already, return the stored one unchanged.

        Raises TicketStateError (409) when ``ticket`` is open and the contact already has
        another open ticket on the number: a contact has at most one open ticket."""

    @abstractmethod
    async def get(self, ticket_id: str) -> Ticket | None: ...

    @abstractmethod
    async def open_for(self, number: str, contact: str) -> Ticket | None:
        """The contact's open (waiting or assigned) ticket on ``number``, if any."""

    @abstractmethod
    async def _save(self, before: Ticket, after: Ticket) -> bool:
        """Store ``after`` (its version already ``before.version + 1``) if the stored
        version is still ``before.version``; False when it is not."""

    async def update(self, ticket_id: str, change: Callable[[Ticket], Ticket]) -> Ticket:
        """Load the ticket, apply ``change`` and save the result if nobody saved the ticket
        meanwhile (optimistic; up to 10 attempts, so ``change`` must be pure). The saved
        ticket has version + 1; a change that returns the ticket as it was saves nothing.
        Raises NotFound when there is no such ticket; exceptions of ``change`` propagate;
        VersionConflict when every attempt lost a race."""
        for attempt in range(UPDATE_ATTEMPTS):
            current = await self.get(ticket_id)
            if current is None:
                raise ticket_not_found(ticket_id)
            changed = change(current)
            if changed == current:
                return current
            check_same_ticket(current, changed)
            saved = changed.model_copy(update={"version": current.version + 1})
            if await self._save(current, saved):
                return saved
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise VersionConflict(
            f"ticket {ticket_id} kept changing; gave up after {UPDATE_ATTEMPTS} attempts",
            details={"ticket_id": ticket_id},
        )

    @abstractmethod
    async def list(
        self,
        number: str | None = None,
        queue: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Ticket]:
        """Tickets matching every filter given, newest first, ``offset`` skipped."""

    @abstractmethod
    def scan(
        self, number: str, since: float, until: float, batch: int = SCAN_BATCH
    ) -> AsyncIterator[Ticket]:
        """The number's tickets created in [since, until), newest first, read ``batch``
        at a time (memory stays bounded whatever the number holds)."""

    @abstractmethod
    async def purge(self, closed_before: float, limit: int = SCAN_BATCH) -> int:
        """Remove up to ``limit`` tickets closed before ``closed_before`` from every index
        and from the store (R-DESK-3 retention); returns how many. Open tickets stay,
        however old; a ticket saved meanwhile is kept."""
