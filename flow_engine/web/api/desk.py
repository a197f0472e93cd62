"""The attendant API (R-DESK-2): list, read, take, answer, transfer and close tickets.

Routes of the ``/api/v1`` application (module ``desk``: a member acts only on tickets of
the numbers linked to them, ``web/api/auth.py``). Every
attendant action that the contact must see is queued as an event of the conversation
(``engine/events.py``), so it is handled in order with the contact's own messages.
Event ids are derived from the ticket, so a retried request never posts twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, create_model

from flow_engine.admin.permissions import Module
from flow_engine.domain import limits
from flow_engine.domain.config_base import Email
from flow_engine.domain.tickets import (
    Ticket,
    TicketMessage,
    TicketStateError,
    TicketStatus,
    ticket_id_for,
)
from flow_engine.engine.configs import ConfigCache
from flow_engine.engine.events import DESK_MESSAGE, TICKET_CLOSED, TICKET_TRANSFERRED, post_event
from flow_engine.errors import BadRequest, Forbidden, NotFound, UnprocessableEntity
from flow_engine.storage.base import Storage
from flow_engine.storage.tickets import TicketStore
from flow_engine.web.api.auth import principal, require
from flow_engine.web.api.registry import Api, Input, Permission, parse
from flow_engine.web.state import CONFIGS, SETTINGS, STORAGE, TICKETS

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 200
PAGE_MAX = 200


class ListQuery(Input):
    number: str | None = None
    queue: str | None = None
    status: TicketStatus | None = None
    limit: int = Field(50, ge=1, le=PAGE_MAX)
    offset: int = Field(0, ge=0)


ATTENDANT = (
    "The attendant's e-mail. A member acts as themselves: omit it (or give their own); "
    "the super-admin names the attendant."
)


class TakeBody(Input):
    attendant: Email | None = Field(None, description=ATTENDANT)


class MessageBody(Input):
    text: str = Field(min_length=1, max_length=limits.TEXT_MAX, pattern=r"\S")
    attendant: Email | None = Field(None, description=ATTENDANT)


class TransferBody(Input):
    queue: str = Field(min_length=1, max_length=limits.ROW_TITLE_MAX)
    attendant: Email | None = None


class CloseBody(Input):
    attendant: Email | None = None
    #: who ended the service: the attendant (default), or the contact (e.g. they said
    #: goodbye and the attendant records it) -> closed_by_contact
    closed_by: Literal["attendant", "contact"] = "attendant"


def summary(ticket: Ticket) -> dict[str, Any]:
    """A ticket without its transcript and transitions, for lists."""
    doc = ticket.model_dump(mode="json", exclude={"transcript", "transitions"})
    doc["messages"] = len(ticket.transcript)
    return doc


def full(ticket: Ticket) -> dict[str, Any]:
    return ticket.model_dump(mode="json")


@dataclass
class Desk:
    """The attendant actions, on the stores of one app."""

    tickets: TicketStore
    storage: Storage
    configs: ConfigCache
    partitions: int
    clock: Callable[[], float] = time.time

    @classmethod
    def of(cls, request: web.Request) -> Desk:
        c = request.config_dict
        return cls(c[TICKETS], c[STORAGE], c[CONFIGS], c[SETTINGS].partitions)

    async def _post(self, ticket: Ticket, event: str, data: dict[str, Any], event_id: str) -> None:
        await post_event(
            self.storage, self.partitions, ticket.number, ticket.contact, event, data, event_id
        )

    async def get(self, ticket_id: str) -> Ticket:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound(f"ticket {ticket_id} not found", details={"ticket_id": ticket_id})
        return ticket

    async def take(self, ticket_id: str, attendant: str) -> Ticket:
        now = self.clock()
        return await self.tickets.update(ticket_id, lambda t: t.assign(attendant, now))

    async def answer(
        self, ticket_id: str, message_id: str, text: str, attendant: str
    ) -> tuple[Ticket, dict[str, Any]]:
        now = self.clock()
        ticket = await self.tickets.update(
            ticket_id,
            lambda t: t.with_message(message_id, "attendant", text, now, attendant=attendant),
        )
        # a replayed Idempotency-Key finds the message stored the first time
        message = next(m for m in ticket.transcript if m.id == message_id)
        data = {"ticket_id": ticket.id, "text": message.text, "attendant": message.attendant}
        await self._post(ticket, DESK_MESSAGE, data, f"{ticket.id}:msg:{message_id}")
        return ticket, message.model_dump(mode="json")

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
            return t.transfer_to(new_id, queue=name, attendants=attendants, now=now, by=by)[0]

        try:
            old = await self.tickets.update(ticket_id, change)
        except TicketStateError:
            stored = await self.tickets.get(ticket_id)
            if stored is not None and stored.transferred_to == new_id:
                await self._finish_transfer(stored, name, attendants)  # a retry: repair
            raise
        return old, await self._finish_transfer(old, name, attendants)

    async def _finish_transfer(self, old: Ticket, queue: str, attendants: list[str]) -> Ticket:
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
            )
        )
        data = {"ticket_id": old.id, "new_ticket_id": new.id}
        await self._post(old, TICKET_TRANSFERRED, data, f"{old.id}:transferred")
        return new

    async def close(self, ticket_id: str, by: str | None, *, by_contact: bool = False) -> Ticket:
        now = self.clock()
        status = TicketStatus.CLOSED_BY_CONTACT if by_contact else TicketStatus.CLOSED_BY_ATTENDANT
        try:
            ticket = await self.tickets.update(ticket_id, lambda t: t.close(status, now, by))
        except TicketStateError:
            stored = await self.tickets.get(ticket_id)
            if stored is not None and stored.status == status:  # a retry: repost, then 409
                await self._post(
                    stored, TICKET_CLOSED, {"ticket_id": stored.id}, f"{ticket_id}:closed"
                )
            raise
        await self._post(ticket, TICKET_CLOSED, {"ticket_id": ticket.id}, f"{ticket_id}:closed")
        return ticket


def idempotency_key(request: web.Request) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return uuid.uuid4().hex
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise BadRequest(
            f"{IDEMPOTENCY_HEADER} must have 1 to {IDEMPOTENCY_KEY_MAX} characters",
            details={"header": IDEMPOTENCY_HEADER},
        )
    return key


#: A ticket in a list: without its transcript and transitions, with its message count.
TicketSummary: type[BaseModel] = create_model(
    "TicketSummary",
    messages=(int, ...),
    **{  # type: ignore[call-overload]
        name: (f.annotation, f)
        for name, f in Ticket.model_fields.items()
        if name not in ("transcript", "transitions")
    },
)

api = Api()
DESK = Module.DESK
TICKET = Permission(module=DESK)


class TicketList(BaseModel):
    tickets: list[TicketSummary]


class TicketOut(BaseModel):
    ticket: Ticket


class MessageOut(BaseModel):
    ticket: Ticket
    message: TicketMessage


class TransferOut(BaseModel):
    ticket: Ticket
    new_ticket: Ticket


def acting_attendant(request: web.Request, given: str | None) -> str | None:
    """Who acts: a member always as themselves (another e-mail is a 403); the super-admin
    as the attendant it names, if any."""
    who = principal(request)
    if who.is_super:
        return given
    if given is not None and given != who.email:
        raise Forbidden(
            "you can act on tickets only as yourself",
            details={"field": "attendant", "you": who.email},
        )
    return who.email


def named_attendant(request: web.Request, given: str | None) -> str:
    """Like :func:`acting_attendant`, for actions that need one: a 422 when the
    super-admin names none."""
    attendant = acting_attendant(request, given)
    if attendant is None:
        raise UnprocessableEntity(
            "invalid request",
            details=[
                {
                    "field": "attendant",
                    "message": "the super-admin must name the attendant",
                    "type": "missing",
                }
            ],
        )
    return attendant


async def _ticket(request: web.Request) -> tuple[Desk, Ticket]:
    """The ticket of the path, if the caller may act on its number (desk module)."""
    desk = Desk.of(request)
    ticket = await desk.get(request.match_info["ticket_id"])
    require(principal(request), ticket.number, DESK)
    return desk, ticket


@api.route(
    "GET",
    "/tickets",
    permission=TICKET,
    summary="List tickets (newest first), of the numbers you attend",
    tag="desk",
    query=ListQuery,
    response=TicketList,
)
async def list_tickets(request: web.Request) -> web.Response:
    q = parse(ListQuery, dict(request.query))
    who = principal(request)
    status = None if q.status is None else q.status.value
    store = request.config_dict[TICKETS]
    if q.number is not None:
        require(who, q.number, DESK)
    if who.is_super or q.number is not None:
        found = await store.list(q.number, q.queue, status, q.limit, q.offset)
    else:  # the newest of every number the member attends, merged
        found = []
        for number in sorted(who.numbers):
            found.extend(await store.list(number, q.queue, status, q.limit + q.offset, 0))
        found.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        found = found[q.offset : q.offset + q.limit]
    return web.json_response({"tickets": [summary(t) for t in found]})


@api.route(
    "GET",
    "/tickets/{ticket_id}",
    permission=TICKET,
    summary="A ticket with its transcript and transitions",
    tag="desk",
    response=TicketOut,
    errors=(404,),
)
async def get_ticket(request: web.Request) -> web.Response:
    _desk, ticket = await _ticket(request)
    return web.json_response({"ticket": full(ticket)})


@api.route(
    "POST",
    "/tickets/{ticket_id}/take",
    permission=TICKET,
    summary="Take (assign) a waiting ticket",
    tag="desk",
    body=TakeBody,
    response=TicketOut,
    errors=(404, 409),
)
async def take_ticket(request: web.Request) -> web.Response:
    desk, ticket = await _ticket(request)
    body = parse(TakeBody, await request.read())
    attendant = named_attendant(request, body.attendant)
    ticket = await desk.take(ticket.id, attendant)
    return web.json_response({"ticket": full(ticket)})


@api.route(
    "POST",
    "/tickets/{ticket_id}/messages",
    permission=TICKET,
    summary="Answer the contact (Idempotency-Key makes a retry safe)",
    tag="desk",
    body=MessageBody,
    response=MessageOut,
    status=201,
    errors=(404, 409),
)
async def post_message(request: web.Request) -> web.Response:
    desk, ticket = await _ticket(request)
    body = parse(MessageBody, await request.read())
    key = idempotency_key(request)
    attendant = named_attendant(request, body.attendant)
    ticket, message = await desk.answer(ticket.id, key, body.text, attendant)
    return web.json_response({"ticket": full(ticket), "message": message}, status=201)


@api.route(
    "POST",
    "/tickets/{ticket_id}/transfer",
    permission=TICKET,
    summary="Transfer to another queue of the number, keeping the priority",
    tag="desk",
    body=TransferBody,
    response=TransferOut,
    errors=(404, 409),
)
async def transfer_ticket(request: web.Request) -> web.Response:
    desk, ticket = await _ticket(request)
    body = parse(TransferBody, await request.read())
    attendant = acting_attendant(request, body.attendant)
    old, new = await desk.transfer(ticket.id, body.queue, attendant)
    return web.json_response({"ticket": full(old), "new_ticket": full(new)})


@api.route(
    "POST",
    "/tickets/{ticket_id}/close",
    permission=TICKET,
    summary="Close a ticket (by the attendant, or recorded as closed by the contact)",
    tag="desk",
    body=CloseBody,
    response=TicketOut,
    errors=(404, 409),
)
async def close_ticket(request: web.Request) -> web.Response:
    desk, ticket = await _ticket(request)
    body = parse(CloseBody, await request.read())
    attendant = acting_attendant(request, body.attendant)
    ticket = await desk.close(ticket.id, attendant, by_contact=body.closed_by == "contact")
    return web.json_response({"ticket": full(ticket)})
