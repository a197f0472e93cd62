"""The attendant API (R-DESK-2): list, read, take, answer, transfer and close tickets.

Routes of the ``/api/v1`` application (module ``desk``: a member acts only on tickets of
the numbers linked to them, ``web/api/auth.py``): each parses the request, checks the
caller's permission and calls the desk service (``desk/service.py``). The
``Idempotency-Key`` of an answer makes its retry post nothing twice.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, create_model

from flow_engine.admin.permissions import Module
from flow_engine.desk.service import DeskService
from flow_engine.domain import limits
from flow_engine.domain.config_base import Email, PhoneNumberId
from flow_engine.domain.tickets import Ticket, TicketMessage, TicketStatus
from flow_engine.errors import BadRequest, Forbidden, UnprocessableEntity
from flow_engine.web.api.auth import principal, require
from flow_engine.web.api.registry import Api, Input, Offset, Permission, parse, query
from flow_engine.web.state import DESK_SERVICE, DIRECTORY

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 200
PAGE_MAX = 200


class ListQuery(Input):
    number: PhoneNumberId | None = None
    queue: str | None = None
    status: TicketStatus | None = None
    limit: int = Field(50, ge=1, le=PAGE_MAX)
    offset: Offset = 0


ATTENDANT = (
    "The attendant's e-mail. A member acts as themselves: omit it (or give their own); "
    "the super-admin names the attendant: a member linked to the ticket's number whose "
    "profile grants desk (any e-mail while the number has no such member)."
)


class TakeBody(Input):
    attendant: Email | None = Field(None, description=ATTENDANT)


class MessageBody(Input):
    text: str = Field(min_length=1, max_length=limits.TEXT_MAX, pattern=r"\S")
    attendant: Email | None = Field(None, description=ATTENDANT)


class TransferBody(Input):
    queue: str = Field(min_length=1, max_length=limits.ROW_TITLE_MAX)
    attendant: Email | None = Field(None, description=ATTENDANT)


class CloseBody(Input):
    attendant: Email | None = Field(None, description=ATTENDANT)
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


async def acting_attendant(request: web.Request, ticket: Ticket, given: str | None) -> str | None:
    """Who acts: a member always as themselves (another e-mail is a 403); the super-admin
    as the attendant it names, if any, who must be one of the ticket's number when it has
    any (``Directory.may_attend``: else a 422 naming ``attendant``)."""
    who = principal(request)
    if who.is_super:
        if given is not None:
            await check_attendant(request, ticket.number, given)
        return given
    if given is not None and given != who.email:
        raise Forbidden(
            "you can act on tickets only as yourself",
            details={"field": "attendant", "you": who.email},
        )
    return who.email


async def check_attendant(request: web.Request, number: str, email: str) -> None:
    d = await request.config_dict[DIRECTORY].current()
    if d.may_attend(number, email):
        return
    raise UnprocessableEntity(
        f"the attendant does not attend number {number}",
        details=[
            {
                "field": "attendant",
                "message": f"{email} does not attend number {number}: name a member linked "
                "to it whose profile grants the desk module",
                "type": "not_an_attendant",
            }
        ],
    )


async def named_attendant(request: web.Request, ticket: Ticket, given: str | None) -> str:
    """Like :func:`acting_attendant`, for actions that need one: a 422 when the
    super-admin names none."""
    attendant = await acting_attendant(request, ticket, given)
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


async def _ticket(request: web.Request) -> tuple[DeskService, Ticket]:
    """The ticket of the path, if the caller may act on its number (desk module)."""
    desk = request.config_dict[DESK_SERVICE]
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
    q = query(request, ListQuery)
    who = principal(request)
    numbers: set[str] | None = None if who.is_super else set(who.numbers)
    if q.number is not None:
        require(who, q.number, DESK)
        numbers = {q.number}
    desk = request.config_dict[DESK_SERVICE]
    found = await desk.list(numbers, q.queue, q.status, q.limit, q.offset)
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
    attendant = await named_attendant(request, ticket, body.attendant)
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
    attendant = await named_attendant(request, ticket, body.attendant)
    ticket, message = await desk.answer(ticket.id, key, body.text, attendant)
    return web.json_response(
        {"ticket": full(ticket), "message": message.model_dump(mode="json")}, status=201
    )


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
    attendant = await acting_attendant(request, ticket, body.attendant)
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
    attendant = await acting_attendant(request, ticket, body.attendant)
    ticket = await desk.close(ticket.id, attendant, by_contact=body.closed_by == "contact")
    return web.json_response({"ticket": full(ticket)})
