"""In a real browser: a configuration edit with an invalid field shows the error beside
that field and saves nothing; a valid one is reviewed, saved, and the next webhook is
answered with it; a bulk edit shows its summary before applying."""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import BrowserContext, expect

from tests.console.browser.conftest import ADMIN, ONE, THREE, TWO, Stack, shot, sign_in
from tests.support.harness import text_of

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(120),
]


async def set_greeting(stack: Stack, number: str, text: str) -> None:
    current = await stack.api("GET", f"/numbers/{number}/config")
    config = current["config"]
    config["flow"]["initial_greeting"]["text"] = text
    headers = {**ADMIN, "If-Match": current["etag"]}
    url = stack.url + f"/api/v1/numbers/{number}/config"
    async with stack.admin.put(url, json=config, headers=headers) as resp:
        assert resp.status == 200, await resp.text()


async def version_of(stack: Stack, number: str) -> int:
    return int((await stack.api("GET", f"/numbers/{number}/config"))["version"])


async def test_an_invalid_field_then_a_valid_edit_that_the_next_webhook_uses(
    stack: Stack, context: BrowserContext
) -> None:
    await stack.member("sup@example.com", "Sup", ["config"], [ONE, TWO, THREE])
    page = await context.new_page()
    await sign_in(page, stack, "sup@example.com")
    await page.goto(stack.url + f"/console/numbers/{ONE}/config/faq")
    before = await version_of(stack, ONE)

    await page.get_by_label("Menú de preguntas frecuentes", exact=True).check()
    await page.get_by_label("Pregunta 1", exact=True).fill(
        "Una pregunta demasiado larga para WhatsApp"
    )
    await page.get_by_label("Respuesta 1", exact=True).fill("Su respuesta")
    await page.get_by_role("button", name="Revisar cambios").click()
    question = page.get_by_label("Pregunta 1", exact=True)
    await expect(question).to_have_attribute("aria-invalid", "true")
    error = page.locator("#err-faq\\.questions\\.0\\.question")
    await expect(error).to_have_text("Escriba como máximo 24 caracteres.")
    await expect(question).to_have_value("Una pregunta demasiado larga para WhatsApp")
    await expect(page.locator("#error-summary")).to_be_focused()
    await shot(page, "config-error")
    assert await version_of(stack, ONE) == before  # nothing saved

    await page.goto(stack.url + f"/console/numbers/{ONE}/config/flow")
    await page.get_by_label("Texto del saludo inicial").fill(
        "¡Bienvenida a Ventas, {{contact.name}}!"
    )
    await page.get_by_role("button", name="Revisar cambios").click()
    diff = page.locator("#diff")
    await expect(diff).to_contain_text("flow.initial_greeting.text")
    await shot(page, "config-diff")
    assert await version_of(stack, ONE) == before  # reviewing saves nothing
    await page.get_by_role("button", name="Guardar cambios").click()
    await expect(page.get_by_role("status")).to_have_text("Guardado como una nueva versión.")
    assert await version_of(stack, ONE) == before + 1

    await stack.harness.say("5491100000020", "hola", name="Nora", number=ONE)
    deadline = time.monotonic() + 10
    while True:
        texts = [text_of(r) for r in await stack.harness.sent("5491100000020")]
        if any("¡Bienvenida a Ventas, Nora!" in t for t in texts):
            break
        assert time.monotonic() < deadline, texts
        await asyncio.sleep(0.1)

    await page.get_by_role("link", name="Versiones").click()
    await expect(page.get_by_role("cell", name="sup@example.com")).to_be_visible()
    await shot(page, "config-versions")


async def test_a_bulk_edit_shows_its_summary_before_applying(
    stack: Stack, context: BrowserContext
) -> None:
    await stack.member("bulk@example.com", "Bulk", ["config"], [ONE, TWO, THREE])
    await set_greeting(stack, ONE, "Hola desde la referencia, {{contact.name}}")
    page = await context.new_page()
    await sign_in(page, stack, "bulk@example.com")
    await page.goto(stack.url + "/console/numbers")
    await page.get_by_label("seleccionar Soporte").check()
    await page.get_by_label("seleccionar Secreto").check()
    await page.get_by_label("Bot de referencia").select_option(ONE)
    two, three = await version_of(stack, TWO), await version_of(stack, THREE)
    await page.get_by_role("button", name="Revisar los cambios").click()
    await expect(
        page.get_by_role("heading", name="Editar varios números a la vez")
    ).to_be_visible()
    await expect(page.get_by_role("main")).to_contain_text("cambiarían 2 de 2 números")
    await expect(page.get_by_role("row", name="Soporte")).to_contain_text(
        "flow.initial_greeting.text"
    )
    await shot(page, "bulk-summary")
    assert (await version_of(stack, TWO), await version_of(stack, THREE)) == (two, three)
    await page.get_by_role("button", name="Aplicar cambios masivos").click()
    await expect(page.get_by_role("status")).to_have_text("Aplicado: 2 números cambiados.")
    assert (await version_of(stack, TWO), await version_of(stack, THREE)) == (two + 1, three + 1)
    config = (await stack.api("GET", f"/numbers/{TWO}/config"))["config"]
    assert config["name"] == "Soporte"  # the identity is kept
    assert (
        config["flow"]["initial_greeting"]["text"] == "Hola desde la referencia, {{contact.name}}"
    )
