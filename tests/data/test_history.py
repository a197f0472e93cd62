"""The ticket history (R-DESK-3): search, filters, pages, CSV; the PDF transcript read
back with pypdf (every message in order, Spanish/Portuguese text and emoji, media links
to the media route); the media route streaming from the development gateway; the
retention dropping tickets past the window — on memory and on Redis."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pypdf
import pytest

from flow_engine.desk.transcript import Fonts, Header, TranscriptPdf, covered, installed_fonts
from flow_engine.devtools import webhooks
from flow_engine.devtools.fake_media import DEMO_MEDIA
from flow_engine.domain.tickets import Ticket, TicketStatus
from flow_engine.web.state import HISTORY, STORAGE
from tests.data.conftest import SP, DataStack, FixedClock, get, sao_paulo_config
from tests.flow.conftest import Chat
from tests.flow.test_base_flow import api, open_ticket_id
from tests.support.harness import Harness

ANA = "5491100000001"
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
ATTENDANT = "ana@example.com"
TEXTS = [
    "¡Hola! ¿En qué puedo ayudarle? 😃",
    "Olá, tudo bem? A encomenda já saiu — ação rápida 👍💙",
]


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("redis_url")) if request.param == "redis" else ""


async def a_service_with_media(h: Harness, clock: FixedClock) -> str:
    chat = Chat(h, ANA, clock, name="Ana Souza", number=SP)
    await chat.send("hola")
    await chat.tap("Hablar con un asistente")
    await chat.tap("Ventas")
    ticket = await open_ticket_id(h)
    clock.advance(60)
    assert (await api(h, "POST", f"/api/v1/tickets/{ticket}/take", {"attendant": ATTENDANT}))[0]
    clock.advance(30)
    await chat.send("necesito ayuda con mi pedido ñandú")
    clock.advance(10)
    image = {"type": "image", "image": {"id": "media.demo-image", "mime_type": "image/png"}}
    resp = await h.post_payload(
        webhooks.build_message_webhook(
            wa_id=ANA, name="Ana Souza", content=image, phone_number_id=SP
        )
    )
    assert resp.status == 200
    await chat.received()
    for text in TEXTS:
        clock.advance(20)
        body = {"text": text, "attendant": ATTENDANT}
        status, _ = await api(h, "POST", f"/api/v1/tickets/{ticket}/messages", body)
        assert status == 201
        await chat.received()
    clock.advance(60)
    assert (await api(h, "POST", f"/api/v1/tickets/{ticket}/close", {}))[0] == 200
    await chat.received()
    return ticket


async def pdf_of(h: Harness, ticket: str) -> tuple[int, str, bytes]:
    url = f"{h.engine_url}/api/v1/tickets/{ticket}/transcript.pdf"
    async with h.session.get(url, headers={"Authorization": "Bearer admin-token"}) as r:
        return r.status, r.content_type, await r.read()


def read_pdf(data: bytes) -> tuple[str, list[str]]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    links = [
        str(a.get_object()["/A"]["/URI"])
        for page in reader.pages
        for a in page.get("/Annots", [])
        if "/A" in a.get_object()
    ]
    return text, links


async def test_the_transcript_holds_every_message_in_order(
    data_stack: DataStack, store_url: str
) -> None:
    clock = FixedClock(NOW)
    h = await data_stack([sao_paulo_config()], clock, store_url)
    ticket = await a_service_with_media(h, clock)
    status, content_type, data = await pdf_of(h, ticket)
    assert status == 200 and content_type == "application/pdf"
    text, links = read_pdf(data)
    flat = " ".join(text.split())
    expected = ["necesito ayuda con mi pedido ñandú", "media.demo-image", *TEXTS]
    positions = [flat.find(" ".join(e.split())) for e in expected]
    assert all(p >= 0 for p in positions), (positions, flat)
    assert positions == sorted(positions)  # in order
    # the header: number, contact, queue, attendant, status, times in São Paulo time
    for part in [
        "Demo",
        "Ana Souza",
        "+5491100000001",
        "Ventas",
        ATTENDANT,
        "Cerrado por el asistente",  # the status in the number's language
        "En espera",  # a transition
    ]:
        assert part in flat, part
    assert "closed_by_attendant" not in flat and "waiting" not in flat  # not the codes
    opened = NOW.astimezone(datetime.now().astimezone().tzinfo)  # any zone: same instant
    sp_time = opened.astimezone(__import__("zoneinfo").ZoneInfo("America/Sao_Paulo"))
    assert sp_time.strftime("%Y-%m-%d %H:%M:%S") in flat
    assert "-03" in flat
    # media as links to the media route of the number
    media_links = sorted({link for link in links if "/media/" in link})  # one per line
    assert media_links == [f"{h.engine_url}/api/v1/numbers/{SP}/media/media.demo-image"]
    # and the link streams the media from the gateway
    async with h.session.get(media_links[0], headers={"Authorization": "Bearer admin-token"}) as r:
        assert r.status == 200
        assert r.content_type == "image/png"
        assert await r.read() == DEMO_MEDIA["media.demo-image"][1]
    status, body = await get(h, f"/api/v1/numbers/{SP}/media/media.nope")
    assert status == 404 and body["error"]["code"] == "not_found"


@pytest.mark.skipif(installed_fonts().emoji is None, reason="no emoji font installed")
def test_emoji_render_with_the_emoji_font_and_visibly_without() -> None:
    t = Ticket.open(
        id="t_emoji",
        number=SP,
        contact=ANA,
        contact_name="Ana",
        queue="Ventas",
        attendants=[],
        now=NOW.timestamp(),
    ).with_message("m1", "contact", "Obrigado 😃👍", NOW.timestamp() + 5)
    head = Header(SP, "Demo", "15550000001", "America/Sao_Paulo", "pt-BR")
    with_emoji, _ = read_pdf(TranscriptPdf().render(t, head, "http://x/media"))
    assert "Obrigado 😃👍" in with_emoji and "Transcrição do ticket" in with_emoji
    fonts = installed_fonts()
    plain = TranscriptPdf(Fonts(fonts.regular, fonts.bold, None))
    without, _ = read_pdf(plain.render(t, head, "http://x/media"))
    have = covered((fonts.regular,)) if fonts.regular else frozenset()
    shown = "".join(c if ord(c) in have else f"[U+{ord(c):04X}]" for c in "😃👍")
    assert "[U+1F44D]" in shown  # DejaVu has no thumbs up
    assert f"Obrigado {shown}" in without
    core, _ = read_pdf(TranscriptPdf(Fonts(None, None, None)).render(t, head, "http://x/m"))
    assert "Obrigado ??" in core  # no TTF font at all: the core font, still a PDF


async def test_history_search_filters_pages_and_csv(data_stack: DataStack, store_url: str) -> None:
    clock = FixedClock(NOW)
    h = await data_stack([sao_paulo_config()], clock, store_url)
    storage = h.app[STORAGE]  # type: ignore[attr-defined]
    made = []
    for i in range(7):
        t = Ticket.open(
            id=f"t_h{i}",
            number=SP,
            contact=f"55119000000{i:02d}",
            contact_name=["María", "João", "Pedro"][i % 3] + f" {i}",
            queue=["Ventas", "Soporte técnico"][i % 2],
            attendants=[],
            now=NOW.timestamp() - (7 - i) * 3600,
            timezone="America/Sao_Paulo",
        )
        await storage.tickets.create(t)
        if i % 3 == 0:
            await storage.tickets.update(t.id, lambda x: x.assign(ATTENDANT, NOW.timestamp()))
        made.append(t.id)

    async def ids(**params: Any) -> list[str]:
        status, body = await get(h, f"/api/v1/numbers/{SP}/tickets/history", **params)
        assert status == 200, body
        return [t["id"] for t in body["tickets"]]

    assert await ids() == made[::-1]  # newest first
    assert await ids(q="joão") == ["t_h4", "t_h1"]
    assert await ids(q="+55 11 90000-0003") == ["t_h3"]  # the phone, by its digits
    assert await ids(queue="soporte técnico") == ["t_h5", "t_h3", "t_h1"]
    assert await ids(status="assigned") == ["t_h6", "t_h3", "t_h0"]
    assert await ids(attendant=ATTENDANT) == ["t_h6", "t_h3", "t_h0"]
    status, page = await get(h, f"/api/v1/numbers/{SP}/tickets/history", limit="3", offset="3")
    assert [t["id"] for t in page["tickets"]] == ["t_h3", "t_h2", "t_h1"]
    assert page["next_offset"] == 6 and page["tickets"][0]["attendants"] == [ATTENDANT]
    status, last = await get(h, f"/api/v1/numbers/{SP}/tickets/history", offset="6")
    assert [t["id"] for t in last["tickets"]] == ["t_h0"] and last["next_offset"] is None
    tomorrow = (NOW + timedelta(days=2)).date().isoformat()
    assert await ids(**{"from": tomorrow}) == []
    status, csv_text = await get(h, f"/api/v1/numbers/{SP}/tickets/history", format="csv")
    assert status == 200
    lines = csv_text.splitlines()
    assert lines[0].startswith("id,contact,contact_name,queue,status,attendant")
    assert [line.split(",")[0] for line in lines[1:]] == made[::-1]
    for bad, field in [
        ({"from": "ayer"}, "from"),
        ({"status": "open"}, "status"),
        ({"x": "1"}, "x"),
    ]:
        status, body = await get(h, f"/api/v1/numbers/{SP}/tickets/history", **bad)
        assert status == 422 and body["error"]["details"][0]["field"] == field
    both = {"from": "ayer", "to": "2026-02-30", "status": "open"}
    status, body = await get(h, f"/api/v1/numbers/{SP}/tickets/history", **both)
    assert status == 422  # every bad parameter at once, not the first
    assert [d["field"] for d in body["error"]["details"]] == ["status", "from", "to"]
    # a parameter given twice is named, not silently read once (as on every API route)
    twice = f"/api/v1/numbers/{SP}/tickets/history?status=assigned&status=waiting&q=a&q=b"
    status, body = await get(h, twice)
    assert status == 422, body
    assert [(d["field"], d["in"], d["type"]) for d in body["error"]["details"]] == [
        ("status", "query", "repeated"),
        ("q", "query", "repeated"),
    ]
    assert body["error"]["details"][0]["message"] == "given more than once"


async def test_retention_drops_tickets_past_the_window(
    data_stack: DataStack, store_url: str
) -> None:
    clock = FixedClock(NOW)
    h = await data_stack([sao_paulo_config()], clock, store_url, ticket_retention_days=10)
    storage = h.app[STORAGE]  # type: ignore[attr-defined]
    day = 86400.0

    async def ticket(n: int, created_days_ago: float, closed_days_ago: float | None) -> None:
        t = Ticket.open(
            id=f"t_r{n}",
            number=SP,
            contact=f"55119000001{n:02d}",
            contact_name="R",
            queue="Ventas",
            attendants=[],
            now=NOW.timestamp() - created_days_ago * day,
        )
        await storage.tickets.create(t)
        if closed_days_ago is not None:
            at = NOW.timestamp() - closed_days_ago * day
            await storage.tickets.update(
                t.id, lambda x: x.close(TicketStatus.CLOSED_BY_ATTENDANT, at, "a@x.com")
            )

    await ticket(1, 30, 20)  # closed 20 days ago: past the window
    await ticket(2, 30, None)  # still open, however old: kept
    await ticket(3, 12, 9)  # closed within the window: kept
    await ticket(4, 15, 11)  # closed 11 days ago: past
    assert await h.app[HISTORY].purge() == 2  # type: ignore[attr-defined]
    for gone in ("t_r1", "t_r4"):
        assert await storage.tickets.get(gone) is None
        status, _ = await get(h, f"/api/v1/tickets/{gone}")
        assert status == 404
    listed = [t.id for t in await storage.tickets.list(SP, limit=50)]
    assert listed == ["t_r3", "t_r2"] or sorted(listed) == ["t_r2", "t_r3"]
    assert [t.id for t in await storage.tickets.list(None, status="closed_by_attendant")] == [
        "t_r3"
    ]
    history = [t.id async for t in storage.tickets.scan(SP, 0, NOW.timestamp() + day)]
    assert sorted(history) == ["t_r2", "t_r3"]
    assert await h.app[HISTORY].purge() == 0  # type: ignore[attr-defined]
