"""In a real browser: a contact's webhook opens a ticket that appears in the desk without
a reload; the attendant takes it and replies (the development gateway receives the
text); the contact's answer appears live, as text even when it looks like a script; the
attendant closes and the post-service message goes out."""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import BrowserContext, Dialog, expect

from tests.console.browser.conftest import ADMIN, ONE, TWO, Stack, shot, sign_in
from tests.support.harness import text_of

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(120),
]
CONTACT = "5491100000010"


async def sent_text(stack: Stack, to: str, text: str, within: float = 10.0) -> str:
    """Wait until the gateway got a message to ``to`` containing ``text``."""
    deadline = time.monotonic() + within
    while True:
        for record in await stack.harness.sent(to):
            if text in text_of(record):
                return text_of(record)
        assert time.monotonic() < deadline, f"{text!r} never reached {to}"
        await asyncio.sleep(0.1)


async def test_a_ticket_is_worked_live_from_the_contact_to_the_close(
    stack: Stack, context: BrowserContext
) -> None:
    await stack.member("ana@example.com", "Ana", ["desk"], [ONE, TWO])
    page = await context.new_page()
    dialogs: list[Dialog] = []
    page.on("dialog", lambda d: dialogs.append(d))
    await sign_in(page, stack, "ana@example.com")
    await page.goto(stack.url + "/console/desk")
    await expect(page.get_by_text("No hay nadie en espera.")).to_be_visible()

    # the contact writes: the bot greets and opens a ticket; the queue shows it, no reload
    await stack.harness.say(CONTACT, "hola", name="Carla", number=ONE)
    row = page.get_by_role("link", name="Carla")
    await expect(row).to_be_visible(timeout=15_000)
    await shot(page, "desk-queue")

    await row.click()
    await expect(page.get_by_role("heading", name="Carla")).to_be_visible()
    await page.get_by_role("button", name="Tomar ticket").click()
    await expect(page.locator("#ticket-status")).to_have_text("Asignado")

    reply = page.get_by_label("Su respuesta")
    await reply.fill("¡Hola! Soy Ana, ¿en qué le ayudo?")
    await page.get_by_role("button", name="Enviar").click()
    await expect(reply).to_have_value("")  # posted in the background
    got = await sent_text(stack, CONTACT, "¡Hola! Soy Ana, ¿en qué le ayudo?")
    assert got.startswith("¡Hola! Soy Ana")
    await expect(page.locator("#transcript")).to_contain_text("¡Hola! Soy Ana")

    # the contact answers: it appears in the conversation by itself, as text
    await stack.harness.say(CONTACT, "Quiero cambiar un pedido", name="Carla", number=ONE)
    await expect(page.locator("#transcript")).to_contain_text("Quiero cambiar un pedido")
    await stack.harness.say(CONTACT, "<script>alert(1)</script>", name="Carla", number=ONE)
    message = page.locator("#transcript li", has_text="<script>alert(1)</script>")
    await expect(message).to_be_visible()
    assert await page.locator("#transcript script").count() == 0
    await shot(page, "desk-ticket")

    await page.get_by_role("button", name="Cerrar ticket").click()
    await expect(page.locator("#ticket-status")).to_have_text("Cerrado por el asistente")
    await sent_text(stack, CONTACT, "Gracias por escribirnos 👋")
    assert dialogs == []  # nothing the contact wrote ever ran


async def test_a_ticket_is_transferred_to_another_queue(
    stack: Stack, context: BrowserContext
) -> None:
    async with stack.admin.get(stack.url + f"/api/v1/numbers/{TWO}/config", headers=ADMIN) as resp:
        current = await resp.json()
    config = current["config"]
    config["queue"]["queues"] = [{"name": "Ventas", "attendants": ["teo@example.com"]}]
    headers = {**ADMIN, "If-Match": current["etag"]}
    async with stack.admin.put(
        stack.url + f"/api/v1/numbers/{TWO}/config", json=config, headers=headers
    ) as resp:
        assert resp.status == 200, await resp.text()
    await stack.member("teo@example.com", "Teo", ["desk"], [TWO])
    await stack.harness.say("5491100000011", "hola", name="Lucas", number=TWO)
    page = await context.new_page()
    await sign_in(page, stack, "teo@example.com")
    await page.goto(stack.url + "/console/desk")
    await page.get_by_role("link", name="Lucas").click()
    await page.get_by_label("Transferir a la cola").select_option("Ventas")
    await page.get_by_role("button", name="Transferir", exact=True).click()
    await expect(page.get_by_role("heading", name="Servicio")).to_be_visible()
    row = page.get_by_role("row", name="Lucas")
    await expect(row).to_contain_text("Ventas")
