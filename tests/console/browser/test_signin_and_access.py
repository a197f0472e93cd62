"""In a real browser: signing in and out, a wrong password, the lockout, the keyboard
alone; a member of two numbers never sees the third; the access screens."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, expect

from tests.console.browser.conftest import ONE, PASSWORD, THREE, TWO, Stack, shot, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(120),
]


async def test_sign_in_and_out(stack: Stack, context: BrowserContext) -> None:
    await stack.member("ana@example.com", "Ana", ["desk"], [ONE, TWO])
    page = await context.new_page()
    await page.goto(stack.url + "/console/desk")
    await expect(page).to_have_url(stack.url + "/console/login?next=/console/desk")
    await shot(page, "sign-in")
    await page.get_by_label("Correo electrónico").fill("ana@example.com")
    await page.get_by_label("Contraseña").fill(PASSWORD)
    await page.get_by_role("button", name="Entrar").click()
    await expect(page).to_have_url(stack.url + "/console/desk")  # back where she was going
    await expect(page.get_by_role("heading", name="Servicio")).to_be_visible()
    cookies = {c["name"]: c for c in await context.cookies()}
    assert cookies["fe_session"]["httpOnly"] and cookies["fe_session"]["sameSite"] == "Lax"
    assert cookies["fe_session"]["secure"]  # the engine runs in production here
    await page.get_by_role("button", name="Cerrar sesión").click()
    await expect(page).to_have_url(stack.url + "/console/login")
    await page.goto(stack.url + "/console/")
    await expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()


async def test_a_wrong_password_then_the_lockout(stack: Stack, context: BrowserContext) -> None:
    await stack.member("bea@example.com", "Bea", ["desk"], [ONE])
    page = await context.new_page()
    await sign_in(page, stack, "bea@example.com", "not my password")
    await expect(page.get_by_role("alert")).to_have_text(
        "Correo electrónico o contraseña incorrectos."
    )
    await expect(page.get_by_label("Correo electrónico")).to_have_value("bea@example.com")
    await shot(page, "sign-in-wrong")
    for _ in range(4):
        await sign_in(page, stack, "bea@example.com", "still wrong")
    await sign_in(page, stack, "bea@example.com")  # the right one, too late
    await expect(page.get_by_role("alert")).to_have_text(
        "Demasiados intentos fallidos. Inténtelo más tarde."
    )
    await expect(page).to_have_url(stack.url + "/console/login")


async def test_the_keyboard_alone_signs_in_and_reaches_a_module(
    stack: Stack, context: BrowserContext
) -> None:
    await stack.member("kay@example.com", "Kay", ["desk"], [ONE])
    page = await context.new_page()
    await page.goto(stack.url + "/console/login")
    await expect(page.get_by_label("Correo electrónico")).to_be_focused()  # autofocus
    await page.keyboard.type("kay@example.com")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Hola, Kay")).to_be_visible()
    link = page.get_by_role("navigation").get_by_role("link", name="Servicio")
    await link.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Servicio")).to_be_visible()


async def test_a_member_of_two_numbers_never_sees_the_third(
    stack: Stack, context: BrowserContext
) -> None:
    everything = ["config", "desk", "templates", "human_service", "numbers", "access", "data"]
    await stack.member("duo@example.com", "Duo", everything, [ONE, TWO])
    await stack.harness.say("5491100000077", "hola", name="Tercero", number=THREE)
    page = await context.new_page()
    await sign_in(page, stack, "duo@example.com")
    for path in (
        "/console/numbers",
        "/console/numbers?q=Secreto",
        f"/console/numbers?q={THREE}",
        "/console/templates",
        "/console/human-service",
        "/console/access/numbers",
        f"/console/access/numbers?q={THREE}",
        "/console/desk",
        "/console/desk/history",
        "/console/data",
        "/console/data/service",
        "/console/data/notifications?by=template",
    ):
        await page.goto(stack.url + path)
        shown = await page.locator("main").inner_text()
        query = path.partition("?q=")[2]
        body = (await page.content()).replace(f'value="{query}"', "")
        assert THREE not in shown and "Secreto" not in shown and "Tercero" not in shown, path
        assert THREE not in body and "Secreto" not in body and "Tercero" not in body, path
    await page.goto(stack.url + "/console/numbers")
    await expect(page.get_by_role("link", name="Ventas")).to_be_visible()
    await shot(page, "numbers")
    for path in (
        f"/console/numbers/{THREE}/config/flow",
        f"/console/numbers/{THREE}/versions",
        f"/console/templates/{THREE}",
        f"/console/human-service/{THREE}",
        f"/console/access/numbers/{THREE}",
        f"/console/desk?number={THREE}",
        f"/console/desk/history/{THREE}",
        f"/console/desk/history/{THREE}/export.csv",
        f"/console/data?numbers={THREE}",
        f"/console/data/service?numbers={ONE}&numbers={THREE}",
        f"/console/data/messages.csv?numbers={THREE}",
    ):
        resp = await page.goto(stack.url + path)
        assert resp is not None and resp.status == 403, path
        await expect(page.get_by_role("heading", name="Acceso no permitido")).to_be_visible()
    tickets = await stack.api("GET", f"/tickets?number={THREE}")
    (ticket,) = tickets["tickets"]
    resp = await page.goto(stack.url + f"/console/desk/tickets/{ticket['id']}")
    assert resp is not None and resp.status == 403
    resp = await page.goto(stack.url + f"/console/desk/tickets/{ticket['id']}/transcript.pdf")
    assert resp is not None and resp.status == 403
    await shot(page, "forbidden")


async def test_the_access_screens(stack: Stack, context: BrowserContext) -> None:
    await stack.member("root@example.com", "Root", ["access", "numbers", "desk"], [ONE, TWO])
    page = await context.new_page()
    await sign_in(page, stack, "root@example.com")
    await page.goto(stack.url + "/console/access/profiles")
    await page.get_by_label("Nombre").fill("Atención")
    await page.get_by_label("Servicio (desk)").check()
    await page.get_by_role("button", name="Crear perfil").click()
    await expect(page.get_by_role("link", name="Atención")).to_be_visible()
    await shot(page, "profiles")
    await page.goto(stack.url + "/console/access/members")
    await page.get_by_label("Nombre 1", exact=True).fill("Caro")
    await page.get_by_label("Correo electrónico 1", exact=True).fill("caro@example.com")
    await page.get_by_label("Nombre 2", exact=True).fill("Dani")
    await page.get_by_label("Correo electrónico 2", exact=True).fill("dani@example.com")
    await page.get_by_label("Perfil de acceso").select_option(label="Atención")
    await page.get_by_label(ONE).check()
    await page.get_by_role("button", name="Agregar", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("2 miembros agregados o actualizados.")
    await shot(page, "members")
    await page.goto(stack.url + "/console/access/numbers")
    await page.get_by_label("seleccionar Ventas").check()
    await page.get_by_label("Caro (caro@example.com)").check()
    await page.get_by_role("button", name="Eliminar de los números seleccionados…").click()
    await expect(page.get_by_role("alert")).to_contain_text("caro@example.com")
    await shot(page, "remove-summary")
    await page.get_by_role(
        "button", name="Eliminar de los números seleccionados", exact=True
    ).click()
    await expect(page.get_by_role("heading", name="Administración del sistema")).to_be_visible()
    caro = await stack.api("GET", "/members?q=caro@example.com")
    assert caro["items"][0]["numbers"] == []
