"""In a real browser, from real traffic (a contact's webhooks, an attendant working the
ticket in the desk): the data dashboards show the figures and a chart drawn as SVG, their
CSV export downloads; the desk's history finds the closed ticket by the contact's name
and its PDF transcript downloads with the conversation in it."""

from __future__ import annotations

import asyncio
import csv
import io
import time

import pypdf
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.console.browser.conftest import ONE, THREE, TWO, Stack, shot, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(120),
]
CONTACT = "5491100000042"


async def figure_reaches(page: Page, selector: str, text: str, within: float = 15.0) -> None:
    """Reload until the dashboard's figure shows ``text``. The rollups follow the turns:
    ticket facts at once, conversation and send facts when their partition is next folded
    (within 5 s when idle, docs/data.md), so a figure of each kind is waited for."""
    deadline = time.monotonic() + within
    while True:
        shown = (await page.locator(selector).inner_text()).strip()
        if shown == text:
            return
        assert time.monotonic() < deadline, f"{selector} shows {shown!r}, never {text!r}"
        await asyncio.sleep(0.3)
        await page.reload()


async def fits_the_viewport(page: Page) -> None:
    """No page-wide horizontal scroll at the context's 1,280 px."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    viewport = await page.evaluate("window.innerWidth")
    assert viewport == 1280 and width <= viewport, (width, viewport)


async def download_text(page: Page, link_name: str) -> tuple[str, bytes]:
    async with page.expect_download() as info:
        await page.get_by_role("link", name=link_name).click()
    download = await info.value
    path = await download.path()
    assert path is not None
    return download.suggested_filename, path.read_bytes()


async def test_dashboards_and_history_from_real_traffic(
    stack: Stack, context: BrowserContext
) -> None:
    await stack.member("sup@example.com", "Sup", ["desk", "data"], [ONE, TWO])
    await stack.harness.say("5491100000043", "hola", name="Oculta", number=THREE)
    page = await context.new_page()
    await sign_in(page, stack, "sup@example.com")

    # the traffic: a contact writes, the supervisor works the ticket and closes it
    await stack.harness.say(CONTACT, "hola, ¿mi pedido?", name="Marta", number=ONE)
    await page.goto(stack.url + "/console/desk")
    await page.get_by_role("link", name="Marta").click()
    await page.get_by_role("button", name="Tomar ticket").click()
    await page.get_by_label("Su respuesta").fill("Su pedido sale hoy")
    await page.get_by_role("button", name="Enviar").click()
    await expect(page.locator("#transcript")).to_contain_text("Su pedido sale hoy")
    await page.get_by_role("button", name="Cerrar ticket").click()
    await expect(page.locator("#ticket-status")).to_have_text("Cerrado por el asistente")

    # the dashboards: the overview's cards, then the service report with its charts
    await page.get_by_role("navigation", name="Módulos").get_by_role("link", name="Datos").click()
    await expect(page.get_by_role("heading", name="Datos · Resumen")).to_be_visible()
    await figure_reaches(page, '[data-figure="tickets.offered"]', "1")
    await figure_reaches(page, '[data-figure="tickets.closed"]', "1")
    await figure_reaches(page, '[data-figure="volume.received"]', "1")  # Marta's "hola"
    await shot(page, "data-overview")

    await page.get_by_role("link", name="Servicio humano").click()
    await page.get_by_label("Intervalo").select_option("week")
    await page.get_by_role("button", name="Mostrar").click()
    await expect(page.locator('[data-figure="totals.offered"]')).to_have_text("1")
    await expect(page.locator('[data-figure="totals.closed"]')).to_have_text("1")
    chart = page.locator("figure.chart svg.fe-chart").first
    await expect(chart).to_be_visible()
    assert await chart.locator("rect, path").count() > 3  # drawn, not an empty frame
    assert await page.locator("main script").count() == 0
    await fits_the_viewport(page)  # the report's wide tables scroll in their own box
    await shot(page, "data-service")

    name, body = await download_text(page, "Exportar (CSV)")
    assert name.startswith("service_") and name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert sum(int(r["offered"]) for r in rows) == 1
    assert sum(int(r["closed"]) for r in rows) == 1

    await page.get_by_role("link", name="Volumen de mensajes").click()
    await expect(page.locator("figure.chart svg.fe-chart")).to_have_count(2)
    await figure_reaches(page, '[data-figure="totals.sent_attendant"]', "1")
    await fits_the_viewport(page)

    # the history: the closed ticket, found by the contact's name; its PDF
    await (
        page.get_by_role("navigation", name="Módulos").get_by_role("link", name="Servicio").click()
    )
    await page.get_by_role("link", name="Historial de tickets").click()
    await expect(page.get_by_role("heading", name="Historial de tickets · Ventas")).to_be_visible()
    await page.get_by_label("Estado").select_option("closed_by_attendant")
    search = page.get_by_label("Nombre o teléfono del contacto")
    await search.fill("mar")
    await search.press("Enter")  # the keyboard alone submits the search
    rows_shown = page.locator("tbody tr")
    await expect(rows_shown).to_have_count(1)
    await expect(rows_shown.first).to_contain_text("Marta")
    await expect(rows_shown.first).to_contain_text("sup@example.com")
    await shot(page, "desk-history")

    name, pdf = await download_text(page, "PDF de Marta")
    assert name.endswith(".pdf")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Su pedido sale hoy" in text and "Marta" in text

    name, body = await download_text(page, "Exportar la tabla (CSV)")
    table = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert [r["contact_name"] for r in table] == ["Marta"]

    # the other number is a tab away; the third is nowhere, and typed by hand it is 403
    await page.get_by_role("link", name="Soporte").click()
    await expect(
        page.get_by_role("heading", name="Historial de tickets · Soporte")
    ).to_be_visible()
    assert "Secreto" not in await page.content()
    for path in (f"/console/desk/history/{THREE}", f"/console/data/service?numbers={THREE}"):
        resp = await page.goto(stack.url + path)
        assert resp is not None and resp.status == 403, path
        await expect(page.get_by_role("heading", name="Acceso no permitido")).to_be_visible()
