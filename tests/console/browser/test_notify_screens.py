"""In a real browser: one notification with its template's parameters and extras, its
status followed live; the contact's reply opens a ticket showing the extras beside the
conversation; a campaign CSV with bad rows shows them before anything is sent, then its
progress live, with pause, resume and cancel."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, expect

from tests.console.browser.conftest import ONE, Stack, shot, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(120),
]
CSV = """telefono;nombre;fecha
+54 9 11 2345-6701;Ana;31/12
5491123456702;Bruno;31/12
not a phone;Carla;31/12
;Eva;31/12
5491123456702;Bruno otra vez;31/12
"""


async def test_one_notification_its_status_and_the_extras_beside_the_reply(
    stack: Stack, context: BrowserContext
) -> None:
    await stack.member("na@example.com", "Na", ["notifications", "desk"], [ONE])
    page = await context.new_page()
    await sign_in(page, stack, "na@example.com")
    await (
        page.get_by_role("navigation")
        .get_by_role("link", name="Envío de notificaciones activas")
        .click()
    )
    await page.get_by_role("link", name="Envío individual").click()
    await page.get_by_label("Bot/número que envía").select_option(ONE)
    await page.get_by_role("button", name="Elegir").click()
    await page.get_by_role("button", name="Leer el catálogo de nuevo").click()
    await expect(page.get_by_text("2 plantillas se pueden enviar")).to_be_visible()
    await page.get_by_label("Plantilla").select_option("recordatorio_cita|es")
    await page.get_by_role("button", name="Elegir").click()
    await page.get_by_label("Teléfono del destinatario").fill("+54 9 11 2345-6710")
    await page.get_by_label("Texto: nombre").fill("Zoe")
    await page.get_by_label("Texto: fecha").fill("mañana")
    await page.get_by_label("Nombre 1", exact=True).fill("pedido")
    await page.get_by_label("Valor 1", exact=True).fill("A-123")
    await page.get_by_label("Una respuesta va a").select_option("Otros asuntos")
    await shot(page, "notify-send")
    await page.get_by_role("button", name="Enviar notificación").click()
    await expect(page.locator("#n-status")).to_have_text("Leída", timeout=15_000)  # live
    await shot(page, "notify-status")

    await stack.harness.say("5491123456710", "¿a qué hora?", name="Zoe", number=ONE)
    await page.goto(stack.url + "/console/desk")
    await page.get_by_role("link", name="Zoe").click()
    extras = page.locator("#ticket-extras")
    await expect(extras).to_contain_text("pedido")
    await expect(extras).to_contain_text("A-123")


async def test_a_campaign_csv_with_bad_rows_shows_them_then_runs_live(
    stack: Stack, context: BrowserContext, tmp_path: Path
) -> None:
    await stack.member("camp@example.com", "Camp", ["notifications"], [ONE])
    await stack.api("POST", f"/numbers/{ONE}/templates/sync")
    csv_file = tmp_path / "clientes.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    page = await context.new_page()
    await sign_in(page, stack, "camp@example.com")
    await page.goto(stack.url + f"/console/notifications/campaigns/new?number={ONE}")
    await page.get_by_label("Plantilla").select_option("recordatorio_cita|es")
    await page.get_by_role("button", name="Elegir").click()
    await page.get_by_label("Nombre de la campaña").fill("Recordatorios")
    await page.get_by_label("Archivo CSV").set_input_files(str(csv_file))
    await page.get_by_label("Columna de los teléfonos").fill("telefono")
    await page.get_by_label("Separador").select_option(";")
    await page.get_by_label("Texto: nombre").fill("@nombre")
    await page.get_by_label("Texto: fecha").fill("@fecha")
    await page.get_by_label("Envíos por segundo").fill("0.2")  # 5 s between the two sends
    await page.get_by_role("button", name="Revisar el archivo").click()
    report = page.locator("#report")
    await expect(report).to_contain_text("5 filas: se enviarán 2, 2 rechazadas, 1 repetidas.")
    rejected = report.get_by_role("table")
    await expect(rejected.get_by_role("row")).to_have_count(3)  # the header and two rows
    await expect(rejected).to_contain_text("telefono")
    await shot(page, "campaign-report")
    assert (await stack.api("GET", "/campaigns"))["campaigns"] == []  # nothing stored yet

    await page.get_by_role("button", name="Enviar a las 2 filas aceptadas").click()
    await expect(page.get_by_role("heading", name="Recordatorios")).to_be_visible()
    await page.get_by_role("button", name="Pausar").click()
    await expect(page.locator("#campaign-state")).to_have_text("En pausa")
    await page.get_by_role("button", name="Reanudar").click()
    await expect(page.locator("#campaign-state")).to_have_text("Enviando")
    await expect(page.locator("#count-read")).not_to_have_text("0", timeout=15_000)  # live
    await shot(page, "campaign-progress")
    await page.get_by_role("button", name="Cancelar campaña").click()
    await expect(page.locator("#campaign-state")).to_have_text("Cancelada")
    await expect(page.get_by_role("button", name="Cancelar campaña")).to_have_count(0)
