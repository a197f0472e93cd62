"""In a real browser: the health cards count each class and filter the table, search, the
CSV export of the same table; a number's activation step by step, with the gateway's
refusal shown as it came."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.async_api import BrowserContext, expect

from tests.console.browser.conftest import ONE, THREE, TWO, Stack, shot, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(120),
]


async def test_cards_filter_the_table_search_and_export(
    stack: Stack, context: BrowserContext
) -> None:
    stack.numbers.update(ONE, quality_rating="GREEN")
    stack.numbers.update(TWO, quality_rating="RED")
    stack.numbers.update(THREE, quality_rating="YELLOW")
    await stack.member("hea@example.com", "Hea", ["health"], [ONE, TWO])
    page = await context.new_page()
    await sign_in(page, stack, "hea@example.com")
    await (
        page.get_by_role("navigation").get_by_role("link", name="La salud de los números").click()
    )
    await page.get_by_role("button", name="Leer Ventas ahora").click()
    await expect(page.get_by_role("status")).to_contain_text(ONE)
    await page.get_by_role("button", name="Leer Soporte ahora").click()
    cards = page.get_by_role("list", name="Números por salud")
    await expect(cards.get_by_role("link", name="1 Bueno")).to_be_visible()
    await expect(cards.get_by_role("link", name="1 Malo")).to_be_visible()
    await expect(cards.get_by_role("link", name="0 Medio")).to_be_visible()  # not Secreto's
    await shot(page, "health")

    await cards.get_by_role("link", name="1 Malo").click()
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Soporte")
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Exportar informe (CSV)").click()
    download = await info.value
    text = (await download.path()).read_text(encoding="utf-8") if await download.path() else ""
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["number"] for r in table] == [TWO]
    assert "Secreto" not in text

    await page.get_by_role("link", name="2 todos").click()
    await page.get_by_label("Buscar por bot o número").fill("Ventas")
    await page.get_by_role("button", name="Buscar").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Ventas")


async def test_activation_step_by_step_and_the_gateways_refusal(
    stack: Stack, context: BrowserContext
) -> None:
    await stack.member("act@example.com", "Act", ["numbers"], [ONE])
    page = await context.new_page()
    await sign_in(page, stack, "act@example.com")
    await page.goto(stack.url + f"/console/access/numbers/{ONE}")
    await page.get_by_role("link", name="Activar este número").click()
    await expect(
        page.get_by_role("heading", name="Activación del número · Ventas")
    ).to_be_visible()
    await expect(page.locator("dl")).to_contain_text("+15550000001")
    await page.get_by_role("button", name="Solicitar el código").click()
    await expect(page.get_by_label("Código recibido")).to_be_visible()
    (number, code) = stack.codes[-1]
    assert number == ONE

    wrong = "000000" if code != "000000" else "111111"
    await page.get_by_label("Código recibido").fill(wrong)
    await page.get_by_label("PIN de verificación en dos pasos").fill("246810")
    await page.get_by_role("button", name="Continuar").click()
    await expect(page.get_by_role("alert")).to_contain_text("El gateway lo rechazó")
    await expect(page.get_by_role("alert")).to_contain_text("136025")
    await shot(page, "activation-refused")
    assert "246810" not in await page.content()  # the PIN is never shown back

    await page.get_by_label("Código recibido").fill(code)
    await page.get_by_label("PIN de verificación en dos pasos").fill("246810")
    await page.get_by_role("button", name="Continuar").click()
    await expect(page.get_by_role("status")).to_have_text(
        "El número está verificado y registrado."
    )
    await shot(page, "activation")
