"""Service (module ``desk``, the manual's "Servicio"): the waiting queue of the member's
numbers, updated live; a ticket's conversation, live in both directions; take, reply,
transfer and close — the desk service's use cases (``desk/service.py``), as the
attendant API offers them."""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from flow_engine.admin.permissions import Module, Principal
from flow_engine.console import stream
from flow_engine.console.auth import LOCALE, MEMBER, WHO
from flow_engine.console.figures import Figures
from flow_engine.console.i18n import translator
from flow_engine.console.registry import Pages
from flow_engine.console.render import render, render_string, url
from flow_engine.console.security import SECURITY_HEADERS
from flow_engine.desk.service import DeskService
from flow_engine.domain import limits
from flow_engine.domain.tickets import Ticket, TicketStateError, TicketStatus
from flow_engine.errors import RequestError
from flow_engine.web.api.auth import require
from flow_engine.web.api.registry import Permission
from flow_engine.web.state import CONFIGS, DESK_SERVICE

pages = Pages()
DESK = Permission(module=Module.DESK)
LIST_MAX = 200
KEY = re.compile(r"^[0-9a-f]{32}$")


def desk_of(request: web.Request) -> DeskService:
    return request.config_dict[DESK_SERVICE]


def desk_numbers(who: Principal) -> list[str]:
    return sorted(who.numbers) if who.has_module(Module.DESK) else []


async def number_names(request: web.Request, numbers: list[str]) -> dict[str, str]:
    names = {}
    for n in numbers:
        config = await request.config_dict[CONFIGS].get(n)
        names[n] = (config.name or n) if config else n
    return names


async def number_zones(request: web.Request, numbers: list[str]) -> dict[str, str]:
    """Each number's time zone, the one its tickets' times are shown in."""
    zones = {}
    for n in numbers:
        config = await request.config_dict[CONFIGS].get(n)
        if config is not None:
            zones[n] = config.timezone
    return zones


async def queue_state(request: web.Request) -> dict[str, Any]:
    """The member's queue: tickets waiting on their numbers (filtered by number and queue
    when asked), and the open tickets assigned to them."""
    who, me = request[WHO], request[MEMBER]
    numbers = desk_numbers(who)
    wanted = request.query.get("number")
    if wanted:
        require(who, wanted, Module.DESK)
        numbers = [wanted]
    queue = request.query.get("queue") or None
    desk = desk_of(request)
    waiting = await desk.list(numbers, queue, TicketStatus.WAITING, LIST_MAX) if numbers else []
    assigned = await desk.list(numbers, None, TicketStatus.ASSIGNED, LIST_MAX) if numbers else []
    mine = [t for t in assigned if t.attendant == me.email]
    if request.query.get("offered"):  # only the tickets offered to them (their queues)
        waiting = [t for t in waiting if me.email in t.attendants]
    waiting.sort(key=lambda t: (-t.priority, t.created_at))
    return {"waiting": waiting, "mine": mine, "numbers": numbers}


def fingerprint(tickets: list[Ticket]) -> tuple[tuple[str, int], ...]:
    return tuple((t.id, t.version) for t in tickets)


@pages.route("GET", "/desk", permission=DESK, name="desk")
async def desk_page(request: web.Request) -> web.Response:
    state = await queue_state(request)
    all_numbers = desk_numbers(request[WHO])
    names = await number_names(request, all_numbers)
    return render(
        request,
        "desk/queue.html",
        names=names,
        zones=await number_zones(request, all_numbers),
        number=request.query.get("number", ""),
        queue=request.query.get("queue", ""),
        offered=bool(request.query.get("offered")),
        stream_url=url(request, "desk_stream", query=dict(request.query)),
        **state,
    )


@pages.route("GET", "/desk/stream", permission=DESK, name="desk_stream", stream=True)
async def desk_stream(request: web.Request) -> web.StreamResponse:
    wanted = request.query.get("number")
    if wanted:  # before the stream answers 200: a number outside the grant is the 403 page
        require(request[WHO], wanted, Module.DESK)
    names = await number_names(request, desk_numbers(request[WHO]))
    zones = await number_zones(request, desk_numbers(request[WHO]))

    async def snapshot() -> stream.Snapshot:
        state = await queue_state(request)
        key = (fingerprint(state["waiting"]), fingerprint(state["mine"]))

        def parts() -> list[tuple[str, str]]:
            html = render_string(
                request, "desk/queue_tables.html", names=names, zones=zones, **state
            )
            return [("queue-tables", html)]

        return key, parts

    return await stream.serve(request, snapshot, request.app[stream.STOPPING], SECURITY_HEADERS)


async def ticket_of(request: web.Request) -> Ticket:
    """The ticket of the path, if the member attends its number (else the 403 page)."""
    ticket = await desk_of(request).get(request.match_info["ticket_id"])
    require(request[WHO], ticket.number, Module.DESK)
    return ticket


async def ticket_context(request: web.Request, ticket: Ticket) -> dict[str, Any]:
    config = await request.config_dict[CONFIGS].get(ticket.number)
    queues = config.queue_names() if config else []
    return {
        "ticket": ticket,
        "mine": ticket.attendant == request[MEMBER].email,
        "queues": [q for q in queues if q.casefold() != ticket.queue.casefold()],
        "number_name": (config.name if config else "") or ticket.number,
        "zone": config.timezone if config else None,
    }


@pages.route("GET", "/desk/tickets/{ticket_id}", permission=DESK, name="ticket")
async def ticket_page(request: web.Request) -> web.Response:
    return await render_ticket(request, await ticket_of(request))


async def render_ticket(
    request: web.Request,
    ticket: Ticket,
    *,
    status: int = 200,
    refused: str = "",
    text: str = "",
    key: str = "",
    errors: dict[str, str] | None = None,
) -> web.Response:
    """The ticket's page; ``refused``: why the action just posted was refused, ``text``
    and ``key``: the reply typed then, kept to send again, ``errors``: its error."""
    return render(
        request,
        "desk/ticket.html",
        status=status,
        key=key or uuid.uuid4().hex,
        text=text,
        refused=refused,
        errors=errors or {},
        stream_url=url(request, "ticket_stream", ticket_id=ticket.id),
        **await ticket_context(request, ticket),
    )


@pages.route(
    "GET", "/desk/tickets/{ticket_id}/stream", permission=DESK, name="ticket_stream", stream=True
)
async def ticket_stream(request: web.Request) -> web.StreamResponse:
    await ticket_of(request)

    async def snapshot() -> stream.Snapshot:
        ticket = await ticket_of(request)
        ctx = await ticket_context(request, ticket)

        def parts() -> list[tuple[str, str]]:
            return [
                ("transcript", render_string(request, "desk/transcript.html", **ctx)),
                ("ticket-panel", render_string(request, "desk/panel.html", **ctx)),
            ]

        return (ticket.version, ctx["mine"]), parts

    return await stream.serve(request, snapshot, request.app[stream.STOPPING], SECURITY_HEADERS)


def back_to(request: web.Request, ticket_id: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(url(request, "ticket", ticket_id=ticket_id))


def refusal(request: web.Request, action: str, exc: RequestError, ticket: Ticket) -> str:
    """Why the desk service refused ``action``, in the member's language: who holds the
    ticket, or the status that does not allow it (else the service's own message)."""
    t = translator(request[LOCALE])
    if not isinstance(exc, TicketStateError):
        why = exc.message
    elif ticket.status == TicketStatus.ASSIGNED and ticket.attendant != request[MEMBER].email:
        why = t("desk.why_taken", attendant=ticket.attendant)
    else:
        why = t("desk.why_status", status=t("status." + ticket.status.value))
    return t("desk.refused_" + action, why=why)


async def refused(
    request: web.Request, action: str, exc: RequestError, *, text: str = "", key: str = ""
) -> web.Response:
    """The ticket's page again with the refusal shown (a line for the script's post),
    with the service's status (409 for a ticket whose status does not allow it)."""
    ticket = await ticket_of(request)  # as it is now
    message = refusal(request, action, exc, ticket)
    if request.headers.get("X-Console-Fetch"):
        return web.Response(status=exc.status, text=message)
    return await render_ticket(
        request, ticket, status=exc.status, refused=message, text=text, key=key
    )


@pages.route("POST", "/desk/tickets/{ticket_id}/take", permission=DESK, name="ticket_take")
async def take(request: web.Request) -> web.StreamResponse:
    ticket = await ticket_of(request)
    try:
        await desk_of(request).take(ticket.id, request[MEMBER].email)
    except RequestError as exc:
        return await refused(request, "take", exc)
    raise back_to(request, ticket.id)


@pages.route("POST", "/desk/tickets/{ticket_id}/reply", permission=DESK, name="ticket_reply")
async def reply(request: web.Request) -> web.StreamResponse:
    ticket = await ticket_of(request)
    form = await request.post()
    text = str(form.get("text", "")).strip()
    key = str(form.get("key", ""))
    if not KEY.match(key):
        key = uuid.uuid4().hex
    if len(text) > limits.TEXT_MAX:  # the API's limit: WhatsApp's text body
        return await too_long(request, ticket, text, key)
    try:
        if text:  # an empty reply sends nothing
            await desk_of(request).answer(ticket.id, key, text, request[MEMBER].email)
    except RequestError as exc:
        return await refused(request, "reply", exc, text=text, key=key)
    if request.headers.get("X-Console-Fetch"):
        return web.Response(status=204, headers={"X-Next-Key": uuid.uuid4().hex})
    raise back_to(request, ticket.id)


async def too_long(request: web.Request, ticket: Ticket, text: str, key: str) -> web.Response:
    """A 422 beside the answer box, the text kept: nothing is sent, in no part."""
    count = Figures(request[LOCALE]).count
    error = translator(request[LOCALE])(
        "desk.too_long", n=count(len(text)), max=count(limits.TEXT_MAX)
    )
    if request.headers.get("X-Console-Fetch"):
        return web.Response(status=422, text=error)
    errors = {"text": error}
    return await render_ticket(request, ticket, status=422, text=text, key=key, errors=errors)


@pages.route("POST", "/desk/tickets/{ticket_id}/transfer", permission=DESK, name="ticket_transfer")
async def transfer(request: web.Request) -> web.StreamResponse:
    ticket = await ticket_of(request)
    form = await request.post()
    try:
        await desk_of(request).transfer(
            ticket.id, str(form.get("queue", "")), request[MEMBER].email
        )
    except RequestError as exc:
        return await refused(request, "transfer", exc)
    raise web.HTTPSeeOther(url(request, "desk"))


@pages.route("POST", "/desk/tickets/{ticket_id}/close", permission=DESK, name="ticket_close")
async def close(request: web.Request) -> web.StreamResponse:
    ticket = await ticket_of(request)
    try:
        await desk_of(request).close(ticket.id, request[MEMBER].email)
    except RequestError as exc:
        return await refused(request, "close", exc)
    raise back_to(request, ticket.id)
