"""The ticket history of the desk (module ``desk``, the manual's "Historial"): a number's
tickets of the retention window (3 months) searched by the contact's name or phone,
status, queue, attendant and local dates, paged, exported as CSV; and a ticket's PDF
transcript. The same services as ``GET /api/v1/numbers/{number}/tickets/history`` and
``GET /api/v1/tickets/{id}/transcript.pdf`` (``desk/history.py``, ``desk/transcript.py``),
with the same query model and the same checks."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from flow_engine.admin.permissions import Module
from flow_engine.console.auth import LOCALE, WHO
from flow_engine.console.i18n import translator
from flow_engine.console.labels import render_form
from flow_engine.console.registry import Pages
from flow_engine.console.render import url
from flow_engine.console.validation import field_message
from flow_engine.console.views.desk import desk_numbers, number_names, number_zones, ticket_of
from flow_engine.desk.history import (
    HistoryFilter,
    TicketHistory,
    acted_by,
)
from flow_engine.domain.tickets import TicketStatus
from flow_engine.errors import UnprocessableEntity
from flow_engine.web.api.history import HistoryQuery, history_query, stream_csv, transcript_pdf
from flow_engine.web.api.registry import Permission
from flow_engine.web.state import HISTORY

pages = Pages()
DESK = Permission(module=Module.DESK)
ONE = Permission(module=Module.DESK, number="number")
PAGE = 25
FIELDS = ("q", "status", "queue", "attendant", "from", "to")
#: the labels of the search form's inputs (the page's offset: its pages)
LABELS = {
    "q": "history.q",
    "status": "desk.status",
    "queue": "desk.queue",
    "attendant": "desk.attendant",
    "from": "data.from",
    "to": "data.to",
    "offset": "history.pages",
}


def history_of(request: web.Request) -> TicketHistory:
    return request.config_dict[HISTORY]


def search_of(request: web.Request) -> dict[str, str]:
    """The search form's fields as given (empty ones left out)."""
    return {k: request.query[k] for k in FIELDS if request.query.get(k, "").strip()}


def parsed(
    request: web.Request,
) -> tuple[HistoryQuery, date | None, date | None] | dict[str, str]:
    """The API's query (``history_query``: every bad parameter at once) on the form's
    fields and the page's offset; or the errors by field."""
    raw = search_of(request)
    if "offset" in request.query:
        raw["offset"] = request.query["offset"]
    raw["limit"] = str(PAGE)
    try:
        return history_query(raw)
    except UnprocessableEntity as exc:
        errors: dict[str, str] = {}
        for d in exc.details if isinstance(exc.details, list) else []:
            errors.setdefault(str(d.get("field")), field_message(request[LOCALE], d))
        return errors


def the_filter(q: HistoryQuery) -> HistoryFilter:
    return HistoryFilter(q.status, q.queue, q.attendant, q.q)


@pages.route("GET", "/desk/history", permission=DESK, name="history")
async def history_home(request: web.Request) -> web.StreamResponse:
    """The history of the member's first number (the page offers the others)."""
    numbers = desk_numbers(request[WHO])
    if numbers:
        raise web.HTTPSeeOther(url(request, "history_number", number=numbers[0]))
    return render_form(request, "desk/history.html", LABELS, **await base(request, None))


async def base(request: web.Request, number: str | None) -> dict[str, Any]:
    numbers = desk_numbers(request[WHO])
    t = translator(request[LOCALE])
    return {
        "number": number,
        "names": await number_names(request, numbers),
        "zone": (await number_zones(request, [number])).get(number) if number else None,
        "search": search_of(request),
        "statuses": [("", t("history.any_status"))]
        + [(s.value, t("status." + s.value)) for s in TicketStatus],
        "errors": {},
        "tickets": [],
        "window": None,
        "offset": 0,
        "next_offset": None,
        "previous_offset": None,
        "export": "",
        "acted_by": acted_by,
    }


@pages.route("GET", "/desk/history/{number:[0-9]+}", permission=ONE, name="history_number")
async def history_page(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    values = await base(request, number)
    found = parsed(request)
    if isinstance(found, dict):
        values["errors"] = found
        return render_form(request, "desk/history.html", LABELS, status=422, **values)
    q, start, end = found
    history = history_of(request)
    tickets, next_offset = await history.page(number, start, end, the_filter(q), PAGE, q.offset)
    _since, _until, first, last = await history.window(number, start, end)
    values.update(
        tickets=tickets,
        window=(first.isoformat(), last.isoformat()),
        offset=q.offset,
        next_offset=next_offset,
        previous_offset=max(0, q.offset - PAGE) if q.offset else None,
        export=url(request, "history_csv", number=number, query=values["search"]),
    )
    return render_form(request, "desk/history.html", LABELS, **values)


@pages.route("GET", "/desk/history/{number:[0-9]+}/export.csv", permission=ONE, name="history_csv")
async def history_export(request: web.Request) -> web.StreamResponse:
    """Every ticket the search finds (not only the page), as the API's CSV."""
    number = request.match_info["number"]
    found = parsed(request)
    if isinstance(found, dict):
        raise UnprocessableEntity("invalid search", details=found)
    q, start, end = found
    return await stream_csv(request, history_of(request), number, start, end, the_filter(q))


@pages.route("GET", "/desk/tickets/{ticket_id}/transcript.pdf", permission=DESK, name="ticket_pdf")
async def ticket_pdf(request: web.Request) -> web.Response:
    """The ticket's transcript, rendered by the API's PDF service with the same header
    (the number's name, phone, time zone and language)."""
    return await transcript_pdf(request, await ticket_of(request), "attachment")
