"""The ticket history (R-DESK-3): a number's tickets of the retention window, searched,
paged or exported as CSV; a ticket's PDF transcript; the media its transcript links to.

Routes of the ``/api/v1`` application, module ``desk``, on the number of the path (or
of the ticket). They parse, check the permission and call ``desk/history.py`` and
``desk/transcript.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date

from aiohttp import web
from pydantic import BaseModel, Field, create_model

from flow_engine.admin.permissions import Module
from flow_engine.data.query import parse_period
from flow_engine.desk.history import (
    HistoryFilter,
    TicketHistory,
    acted_by,
    history_csv_header,
    history_csv_row,
)
from flow_engine.desk.transcript import Header, TranscriptPdf
from flow_engine.domain.tickets import Ticket, TicketStatus
from flow_engine.errors import Problems
from flow_engine.web.api.auth import principal, require
from flow_engine.web.api.desk import TicketSummary, summary
from flow_engine.web.api.registry import Api, Input, Offset, Permission, parse
from flow_engine.web.state import CONFIGS, DESK_SERVICE, GATEWAY, HISTORY

api = Api()
DESK = Module.DESK
PAGE_MAX = 200


class HistoryQuery(Input):
    from_: str | None = Field(
        None, alias="from", description="First local date (created), YYYY-MM-DD."
    )
    to: str | None = Field(None, description="Last local date (created), inclusive.")
    status: TicketStatus | None = None
    queue: str | None = Field(None, max_length=200)
    attendant: str | None = Field(None, max_length=320, description="Who took part.")
    q: str | None = Field(None, max_length=200, description="In the contact's name or phone.")
    limit: int = Field(50, ge=1, le=PAGE_MAX)
    offset: Offset = 0
    format: str = Field("json", pattern="^(json|csv)$")


def history_query(raw: Mapping[str, str]) -> tuple[HistoryQuery, date | None, date | None]:
    """The query and its first and last local dates, or one 422 naming every bad
    parameter at once: the model's and the dates' (``from``/``to`` are read as dates
    beside the model, so a bad status and two bad dates are named together)."""
    found = Problems()
    q: HistoryQuery | None = None
    start = end = None
    with found.check():
        q = parse(HistoryQuery, raw)
    with found.check():
        start, end = parse_period(raw.get("from"), raw.get("to"))
    found.raise_any()
    assert q is not None  # found.raise_any() raised otherwise
    return q, start, end


#: A ticket of the history: a summary, with every attendant who took part.
HistoryRow: type[BaseModel] = create_model(
    "HistoryRow", __base__=TicketSummary, attendants=(list[str], ...)
)


class HistoryPage(BaseModel):
    tickets: list[HistoryRow]
    limit: int
    offset: int
    next_offset: int | None
    window: dict[str, str]


def _history(request: web.Request) -> TicketHistory:
    return request.config_dict[HISTORY]


@api.route(
    "GET",
    "/numbers/{number}/tickets/history",
    permission=Permission(module=DESK, number="number"),
    summary="Ticket history of the retention window: search, filters, pages or CSV",
    tag="desk",
    query=HistoryQuery,
    response=HistoryPage,
    errors=(422,),
)
async def ticket_history(request: web.Request) -> web.StreamResponse:
    q, start, end = history_query(request.query)
    number = request.match_info["number"]
    history = _history(request)
    f = HistoryFilter(q.status, q.queue, q.attendant, q.q)
    if q.format == "csv":
        return await stream_csv(request, history, number, start, end, f)
    found, next_offset = await history.page(number, start, end, f, q.limit, q.offset)
    _since, _until, first, last = await history.window(number, start, end)
    return web.json_response(
        {
            "tickets": [{**summary(t), "attendants": acted_by(t)} for t in found],
            "limit": q.limit,
            "offset": q.offset,
            "next_offset": next_offset,
            "window": {"from": first.isoformat(), "to": last.isoformat()},
        }
    )


async def stream_csv(
    request: web.Request,
    history: TicketHistory,
    number: str,
    start: date | None,
    end: date | None,
    f: HistoryFilter,
) -> web.StreamResponse:
    """Every matching ticket, streamed (the export is not paged)."""
    zone = await history.zone(number)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="tickets_{number}.csv"',
        }
    )
    await response.prepare(request)
    await response.write(history_csv_header().encode())
    async for t in history.matching(number, start, end, f):
        await response.write(history_csv_row(t, zone).encode())
    await response.write_eof()
    return response


@api.route(
    "GET",
    "/tickets/{ticket_id}/transcript.pdf",
    permission=Permission(module=DESK),
    summary="The ticket's transcript as a PDF (media as links)",
    tag="desk",
    errors=(404,),
)
async def ticket_transcript(request: web.Request) -> web.Response:
    """``application/pdf``: the number, contact, queue, attendants, status and every
    timestamp in the number's time zone, then every message with its time and sender."""
    ticket = await request.config_dict[DESK_SERVICE].get(request.match_info["ticket_id"])
    require(principal(request), ticket.number, DESK)
    return await transcript_pdf(request, ticket, "inline")


async def transcript_pdf(request: web.Request, ticket: Ticket, disposition: str) -> web.Response:
    """The transcript of ``ticket`` (permission already checked) with the header of its
    number (name, phone, time zone, language); media link to the media route. The API
    shows it ``inline``, the console downloads it (``attachment``)."""
    config = await request.config_dict[CONFIGS].get(ticket.number)
    head = Header.of(ticket, config)
    media_base = f"{request.url.origin()}/api/v1/numbers/{ticket.number}/media"
    pdf = await asyncio.to_thread(TranscriptPdf().render, ticket, head, media_base)
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'{disposition}; filename="{ticket.id}.pdf"'},
    )


@api.route(
    "GET",
    "/numbers/{number}/media/{media_id}",
    permission=Permission(module=DESK, number="number"),
    summary="A media item of the number's conversations, streamed from the gateway",
    tag="desk",
    errors=(404, 502),
)
async def number_media(request: web.Request) -> web.StreamResponse:
    number, media_id = request.match_info["number"], request.match_info["media_id"]
    async with request.config_dict[GATEWAY].open_media(number, media_id) as media:
        response = web.StreamResponse(headers={"Content-Type": media.content_type})
        if media.size is not None:
            response.content_length = media.size
        await response.prepare(request)
        async for chunk in media.chunks:
            await response.write(chunk)
        await response.write_eof()
        return response
