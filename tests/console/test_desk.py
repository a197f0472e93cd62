"""The desk pages: the queue, a ticket, its actions and its live stream."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flow_engine.domain import limits
from flow_engine.domain.tickets import TicketStatus
from flow_engine.web.state import TICKETS
from tests.admin.conftest import NUMBERS
from tests.console.conftest import Browser, Console


async def signed_in(console: Console, numbers: list[str] = NUMBERS[:2]) -> Browser:
    await console.member("ana@example.com", ["desk"], numbers, name="Ana")
    b = await console.browser()
    assert (await b.sign_in("ana@example.com")).status == 200
    return b


async def test_the_queue_lists_waiting_tickets_of_the_members_numbers(console: Console) -> None:
    await console.ticket(NUMBERS[0], id="t_one", contact_name="Carla")
    await console.ticket(NUMBERS[2], id="t_three", contact_name="Other")
    b = await signed_in(console)
    page = await b.get("/console/desk")
    assert page.status == 200
    assert "Carla" in page.text and "/console/desk/tickets/t_one" in page.text
    assert "t_three" not in page.text and "Other" not in page.text
    assert (await b.get(f"/console/desk?number={NUMBERS[2]}")).status == 403
    assert (await b.get("/console/desk/tickets/t_three")).status == 403


async def test_ticket_times_are_shown_in_the_numbers_time_zone(console: Console) -> None:
    """As the PDF transcript and the CSV export show them: the number's zone, named, not
    the browser's (the script reads ``data-tz``; without it the server's text stands)."""
    reply = await console.admin.call("GET", f"/numbers/{NUMBERS[0]}/config")
    config = {**reply.body["config"], "timezone": "Asia/Tokyo"}
    put = await console.admin.call(
        "PUT", f"/numbers/{NUMBERS[0]}/config", config, headers={"If-Match": reply.etag}
    )
    assert put.status == 200, put.body
    await console.ticket(NUMBERS[0], id="t_one")
    ticket = await console.app[TICKETS].get("t_one")
    assert ticket is not None
    tokyo = datetime.fromtimestamp(ticket.created_at, ZoneInfo("Asia/Tokyo"))
    b = await signed_in(console)
    for path in ("/console/desk", "/console/desk/tickets/t_one"):
        page = await b.get(path)
        assert page.status == 200, path
        shown = f'data-tz="Asia/Tokyo">{tokyo:%Y-%m-%d %H:%M} JST</time>'
        assert shown in page.text, (path, page.text[-3000:])


async def test_the_queue_shows_only_the_tickets_offered_to_the_member_when_asked(
    console: Console,
) -> None:
    await console.ticket(
        NUMBERS[0], id="t_mine", contact_name="Mia", attendants=["ana@example.com"]
    )
    await console.ticket(
        NUMBERS[1], id="t_other", contact_name="Otto", attendants=["x@example.com"]
    )
    b = await signed_in(console)
    everything = await b.get("/console/desk")
    assert "Mia" in everything.text and "Otto" in everything.text
    offered = await b.get("/console/desk?offered=1")
    assert "Mia" in offered.text and "Otto" not in offered.text


async def test_take_reply_and_close_act_as_the_member(console: Console) -> None:
    await console.ticket(NUMBERS[0], id="t_one")
    b = await signed_in(console)
    page = await b.get("/console/desk/tickets/t_one")
    csrf = page.csrf
    await b.post("/console/desk/tickets/t_one/take", {"csrf": csrf})
    ticket = await console.app[TICKETS].get("t_one")
    assert ticket is not None and ticket.attendant == "ana@example.com"
    key = "a" * 32
    for _ in range(2):  # the same form posted twice answers once
        await b.post(
            "/console/desk/tickets/t_one/reply", {"csrf": csrf, "key": key, "text": "¡Hola!"}
        )
    ticket = await console.app[TICKETS].get("t_one")
    assert ticket is not None and [m.text for m in ticket.transcript] == ["¡Hola!"]
    await b.post("/console/desk/tickets/t_one/close", {"csrf": csrf})
    ticket = await console.app[TICKETS].get("t_one")
    assert ticket is not None and ticket.status == TicketStatus.CLOSED_BY_ATTENDANT


async def read_events(b: Browser, path: str, count: int, act: Any = None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with b.client.get(path, headers={"Accept": "text/event-stream"}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        name = None

        async def reader() -> None:
            nonlocal name
            async for raw in resp.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append({"event": name, **json.loads(line[6:])})
                    if len(events) >= count:
                        return

        task = asyncio.create_task(reader())
        await asyncio.sleep(0.3)
        if act is not None:
            await act()
        await asyncio.wait_for(task, 10)
    return events


async def test_the_queue_stream_sends_a_new_ticket_without_a_reload(console: Console) -> None:
    b = await signed_in(console)

    async def open_ticket() -> None:
        await console.ticket(NUMBERS[1], id="t_new", contact_name="Dora")

    events = await read_events(b, "/console/desk/stream", 2, open_ticket)
    assert events[0]["target"] == "queue-tables" and "Dora" not in events[0]["html"]
    assert "Dora" in events[1]["html"]


async def test_the_ticket_stream_escapes_what_the_contact_wrote(console: Console) -> None:
    ticket = await console.ticket(NUMBERS[0], id="t_one")
    b = await signed_in(console)

    async def contact_writes() -> None:
        await console.app[TICKETS].update(
            ticket.id,
            lambda t: t.with_message("m1", "contact", "<script>alert(1)</script>", 1001.0),
        )

    events = await read_events(b, "/console/desk/tickets/t_one/stream", 4, contact_writes)
    transcripts = [e["html"] for e in events if e["target"] == "transcript"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in transcripts[-1]
    assert "<script>" not in transcripts[-1]


async def test_a_stream_without_a_session_is_refused(console: Console) -> None:
    b = await console.browser()
    async with b.client.get("/console/desk/stream", allow_redirects=False) as resp:
        assert resp.status == 401


async def test_a_queue_stream_of_a_number_outside_the_grant_is_refused(console: Console) -> None:
    await console.member("ana@example.com", ["desk"], NUMBERS[:1])
    b = await console.browser()
    assert (await b.sign_in("ana@example.com")).status == 200
    async with b.client.get(f"/console/desk/stream?number={NUMBERS[1]}") as resp:
        assert resp.status == 403  # before any event, not a 200 stream that breaks
        assert resp.content_type != "text/event-stream"


async def test_taking_a_ticket_someone_else_holds_is_refused_on_the_ticket_page(
    console: Console,
) -> None:
    await console.ticket(NUMBERS[0], id="t_one")
    await console.app[TICKETS].update("t_one", lambda t: t.assign("bea@example.com", 1001.0))
    b = await signed_in(console)
    csrf = (await b.get("/console/desk/tickets/t_one")).csrf
    page = await b.post("/console/desk/tickets/t_one/take", {"csrf": csrf})
    assert page.status == 409
    assert 'class="error banner" role="alert"' in page.text
    assert "No pudo tomar este ticket: lo atiende bea@example.com." in page.text
    assert "<h1>Ana" in page.text  # the ticket's page, not the generic error page
    # another's ticket offers nothing to do: no answer box, no transfer, no close
    for action in ("reply", "transfer", "close"):
        assert f"/console/desk/tickets/t_one/{action}" not in page.text, action


async def test_replying_to_a_ticket_no_longer_open_is_refused_with_the_text_kept(
    console: Console,
) -> None:
    await console.ticket(NUMBERS[0], id="t_one")
    b = await signed_in(console)
    csrf = (await b.get("/console/desk/tickets/t_one")).csrf
    await b.post("/console/desk/tickets/t_one/take", {"csrf": csrf})
    await console.app[TICKETS].update(
        "t_one", lambda t: t.close(TicketStatus.CLOSED_BY_CONTACT, 1002.0)
    )
    form = {"csrf": csrf, "key": "b" * 32, "text": "¿Sigue ahí?"}
    page = await b.post("/console/desk/tickets/t_one/reply", form)
    assert page.status == 409
    assert "Su respuesta no se envió: está en estado «Cerrado por el contacto»." in page.text
    assert "¿Sigue ahí?" in page.text
    fetched = await b.post(
        "/console/desk/tickets/t_one/reply", form, headers={"X-Console-Fetch": "1"}
    )
    assert fetched.status == 409
    assert fetched.text == "Su respuesta no se envió: está en estado «Cerrado por el contacto»."


async def test_an_answer_longer_than_whatsapp_allows_is_refused_beside_its_box(
    console: Console,
) -> None:
    await console.ticket(NUMBERS[0], id="t_one")
    b = await signed_in(console)
    csrf = (await b.get("/console/desk/tickets/t_one")).csrf
    await b.post("/console/desk/tickets/t_one/take", {"csrf": csrf})
    text = "a" * (limits.TEXT_MAX + 1)
    form = {"csrf": csrf, "key": "c" * 32, "text": text}
    page = await b.post("/console/desk/tickets/t_one/reply", form)
    assert page.status == 422
    error = "Su respuesta tiene 4.097 caracteres; WhatsApp admite hasta 4.096."
    assert f'<p class="error" id="err-text">{error}</p>' in page.text
    assert 'aria-describedby="err-text"' in page.text
    assert f">{text}</textarea>" in page.text
    fetched = await b.post(
        "/console/desk/tickets/t_one/reply", form, headers={"X-Console-Fetch": "1"}
    )
    assert (fetched.status, fetched.text) == (422, error)
    ticket = await console.app[TICKETS].get("t_one")
    assert ticket is not None and ticket.transcript == []  # nothing sent, in no part
