"""The desk's ticket history over HTTP: the search (name or phone, status, queue,
attendant, dates), pages, the CSV of every match, the PDF transcript from the API's
service, contact text escaped, and the 403 page outside the member's numbers."""

from __future__ import annotations

import csv
import io
import re
import time

import pypdf

from flow_engine.domain.tickets import Ticket, TicketStatus
from flow_engine.web.state import TICKETS
from tests.admin.conftest import NUMBERS
from tests.console.conftest import Console
from tests.console.test_error_summaries import summary_of

NOW = time.time()


async def ticket(
    console: Console,
    id: str,
    name: str,
    contact: str,
    *,
    number: str = NUMBERS[0],
    queue: str = "Otros asuntos",
    closed_by: str | None = None,
    said: str = "",
    ago: float = 3600.0,
) -> Ticket:
    t = Ticket.open(
        id=id,
        number=number,
        contact=contact,
        contact_name=name,
        queue=queue,
        attendants=[],
        now=NOW - ago,
    )
    if said:
        t = t.with_message(f"m_{id}", "contact", said, NOW - ago + 1)
    if closed_by:
        t = t.assign(closed_by, NOW - ago + 2)
        t = t.with_message(f"a_{id}", "attendant", "Listo, resuelto", NOW - ago + 3, closed_by)
        t = t.close(TicketStatus.CLOSED_BY_ATTENDANT, NOW - ago + 4, closed_by)
    return await console.app[TICKETS].create(t)


async def test_search_pages_export_and_the_pdf(console: Console) -> None:
    await console.member("ana@example.com", ["desk"], NUMBERS[:2])
    await ticket(
        console, "t_carla", "Carla", "5491100000099", closed_by="ana@example.com", said="Hola"
    )
    await ticket(console, "t_lucas", "Lucas", "5491100000011", queue="Ventas")
    await ticket(console, "t_old", "Vieja", "5491100000012", ago=120 * 86400.0)
    await ticket(console, "t_other", "Secreta", "5491100000013", number=NUMBERS[2])
    b = await console.browser()
    await b.sign_in("ana@example.com")

    first = await b.get("/console/desk/history")
    assert first.url.endswith(f"/console/desk/history/{NUMBERS[0]}")
    assert "Carla" in first.text and "Lucas" in first.text
    assert "Vieja" not in first.text  # past the 3 months
    assert "Secreta" not in first.text and NUMBERS[2] not in first.text

    base = f"/console/desk/history/{NUMBERS[0]}"
    for query in ("q=carl", "q=0099", "status=closed_by_attendant", "attendant=ana@example.com"):
        page = await b.get(f"{base}?{query}")
        assert page.status == 200
        assert "Carla" in page.text and "Lucas" not in page.text, query
    page = await b.get(f"{base}?queue=ventas")
    assert "Lucas" in page.text and "Carla" not in page.text
    page = await b.get(f"{base}?q=nadie")
    assert "Ningún ticket coincide" in page.text

    async with b.client.get(f"{base}/export.csv?q=carl") as resp:
        assert resp.status == 200 and resp.content_type == "text/csv"
        rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["id"] for r in rows] == ["t_carla"]

    async with b.client.get("/console/desk/tickets/t_carla/transcript.pdf") as resp:
        assert resp.status == 200 and resp.content_type == "application/pdf"
        data = await resp.read()
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert "Hola" in text and "Listo, resuelto" in text and "Carla" in text

    # outside the member's numbers: the 403 page everywhere
    assert (await b.get(f"/console/desk/history/{NUMBERS[2]}")).status == 403
    assert (await b.get(f"/console/desk/history/{NUMBERS[2]}/export.csv")).status == 403
    assert (await b.get("/console/desk/tickets/t_other/transcript.pdf")).status == 403


async def test_pages_of_the_history(console: Console) -> None:
    await console.member("p@example.com", ["desk"], NUMBERS[:1])
    for i in range(27):
        await ticket(
            console, f"t_{i:02d}", f"Contacto {i:02d}", f"54911000001{i:02d}", ago=i * 60.0 + 60
        )
    b = await console.browser()
    await b.sign_in("p@example.com")
    base = f"/console/desk/history/{NUMBERS[0]}"
    one = await b.get(base)
    assert one.text.count("transcript.pdf") == 25
    assert "Página siguiente" in one.text and "Página anterior" not in one.text
    two = await b.get(f"{base}?offset=25")
    assert two.text.count("transcript.pdf") == 2
    assert "Página anterior" in two.text and "Página siguiente" not in two.text
    async with b.client.get(f"{base}/export.csv") as resp:  # every match, not a page
        assert len(list(csv.DictReader(io.StringIO(await resp.text())))) == 27


async def test_contact_text_is_escaped_and_bad_fields_are_named(console: Console) -> None:
    await console.member("s@example.com", ["desk"], NUMBERS[:1])
    await ticket(console, "t_x", "<script>alert(1)</script>", "5491100000077")
    b = await console.browser()
    await b.sign_in("s@example.com")
    page = await b.get(f"/console/desk/history/{NUMBERS[0]}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    bad = await b.get(f"/console/desk/history/{NUMBERS[0]}?from=2026-05-02&to=2026-05-01")
    assert bad.status == 422 and 'id="err-from"' in bad.text
    bad = await b.get(f"/console/desk/history/{NUMBERS[0]}?status=open")
    assert bad.status == 422 and 'id="err-status"' in bad.text


async def test_every_bad_field_of_the_search_is_named_at_once(console: Console) -> None:
    await console.member("s@example.com", ["desk"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("s@example.com")
    base = f"/console/desk/history/{NUMBERS[0]}"
    bad = await b.get(f"{base}?from=ayer&to=2026-02-30&status=nope")
    assert bad.status == 422
    assert [e.split(":")[0] for e in summary_of(bad.text)] == ["Estado", "Desde", "Hasta"]
    for name in ("status", "from", "to"):
        assert f'id="err-{name}"' in bad.text, name
    # the order of the dates is checked once both are dates
    late = await b.get(f"{base}?from=2026-05-02&to=2026-05-01&status=nope")
    assert [e.split(":")[0] for e in summary_of(late.text)] == ["Estado", "Desde"]


async def test_a_bad_offset_is_named_without_a_link_to_no_input(console: Console) -> None:
    # the page has no input for the offset (the pager's links carry it): the summary names
    # it, and every link of the summary leads to something on the page
    await console.member("s@example.com", ["desk"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("s@example.com")
    bad = await b.get(f"/console/desk/history/{NUMBERS[0]}?offset=-1&status=nope")
    assert bad.status == 422
    assert [e.split(":")[0] for e in summary_of(bad.text)] == ["Estado", "Páginas"]
    summary = re.search(r'<div class="summary".*?</div>', bad.text, re.S)
    assert summary
    targets = re.findall(r'href="#([^"]+)"', summary[0])
    assert targets == ["f-status"]
    for target in targets:
        assert f'id="{target}"' in bad.text
