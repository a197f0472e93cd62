"""Browser tests: Debian's chromium, headless, driven by Playwright for Python.

Nothing is downloaded: Playwright's driver comes with its pip package and the browser is
the system's ``/usr/bin/chromium`` (``scripts/ensure-chromium`` installs it; the tests are
skipped with a reason when it is missing outside CI). One browser serves the whole
session; one engine (with the development gateway) serves each test module. Every
browser test runs on the session's event loop, where the browser lives.

Screenshots of the main screens go to ``$FLOW_ENGINE_SCREENSHOTS`` when it names a
directory (``docs/console`` refreshes the documentation's), else to a temporary one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from flow_engine.devtools.fake_gateway import STATE, create_fake_gateway_app
from flow_engine.devtools.fake_numbers import NUMBERS as FAKE_NUMBERS
from flow_engine.devtools.fake_numbers import FakeNumbers
from flow_engine.devtools.fake_templates import FakeCatalog
from flow_engine.web.app import create_app
from tests.conftest import FAST_RETRY, engine_settings
from tests.support.harness import APP_SECRET, TOKEN, Harness

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("FLOW_ENGINE_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
]
ADMIN = {"Authorization": "Bearer admin-token"}
PASSWORD = "browser test password"
ONE, TWO, THREE = "100000000000001", "100000000000002", "100000000000003"


def number(n: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "phone_number_id": n,
        "display_phone_number": "1555000000" + n[-1],
        "name": name,
        "locale": "es",
        # no FAQ, no call center: a contact's first message goes straight to a ticket
        "queue": {"attendants": ["ana@example.com"]},
        "service": {"post_service": {"enabled": True, "text": "Gracias por escribirnos 👋"}},
        # the development gateway's demo WABA and templates (fixtures/catalog)
        "waba_id": "100000000000000",
        "templates": {"active": ["recordatorio_cita", "promo_descuento"]},
        **extra,
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        return  # in CI a missing browser is a failure, not a skip
    skip = pytest.mark.skip(reason=f"{CHROMIUM} missing: run scripts/ensure-chromium")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def shots_dir() -> Path:
    wanted = os.environ.get("FLOW_ENGINE_SCREENSHOTS")
    path = Path(wanted) if wanted else Path(tempfile.gettempdir()) / "flow-engine-console-shots"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def shot(page: Page, name: str) -> Path:
    """A screenshot of the page as a person sees it (docs/console.md shows them)."""
    path = shots_dir() / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield b
        await b.close()


@dataclass
class Stack:
    """An engine on loopback with the development gateway, and a way to talk to both."""

    engine: TestServer
    gateway: TestServer
    harness: Harness
    admin: aiohttp.ClientSession
    numbers: FakeNumbers  # the development gateway's phone numbers (quality, activation)
    codes: list[tuple[str, str]]  # (number, code) of each verification code "called"

    @property
    def url(self) -> str:
        return str(self.engine.make_url("")).rstrip("/")

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        async with self.admin.request(
            method, self.url + "/api/v1" + path, json=body, headers=ADMIN
        ) as r:
            data = await r.json(content_type=None) if r.content_length != 0 else None
            assert r.status < 300, (method, path, r.status, data)
            return data

    async def member(self, email: str, name: str, modules: list[str], numbers: list[str]) -> str:
        profile = await self.api(
            "POST", "/profiles", {"name": f"profile of {email}", "modules": modules}
        )
        added = await self.api(
            "POST",
            "/members",
            {
                "members": [{"name": name, "email": email}],
                "profile_id": profile["id"],
                "numbers": numbers,
            },
        )
        member_id: str = added["items"][0]["member"]["id"]
        await self.api("PUT", f"/members/{member_id}/password", {"password": PASSWORD})
        return member_id


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack() -> AsyncIterator[Stack]:
    config_dir = Path(tempfile.mkdtemp(prefix="console-browser-"))
    for n, name in ((ONE, "Ventas"), (TWO, "Soporte"), (THREE, "Secreto")):
        (config_dir / f"{n}.yaml").write_text(yaml.safe_dump(number(n, name), allow_unicode=True))
    codes: list[tuple[str, str]] = []
    gw_app = create_fake_gateway_app(
        engine_url="http://127.0.0.1:9/unused",
        app_secret=APP_SECRET,
        token=TOKEN,
        on_code=lambda n, _doc, _method, code: codes.append((n, code)),
        catalog=FakeCatalog.from_file(ROOT / "fixtures" / "catalog" / "templates.json"),
    )
    for n in (ONE, TWO, THREE):
        gw_app[FAKE_NUMBERS].update(n, display_phone_number="1555000000" + n[-1])
    gateway = TestServer(gw_app)
    await gateway.start_server()
    gw_url = str(gateway.make_url("")).rstrip("/")
    app = create_app(engine_settings(gw_url, config_dir), retry_policy=FAST_RETRY)
    engine = TestServer(app)
    await engine.start_server()
    harness = Harness(str(engine.make_url("")).rstrip("/"), gw_url)
    gw_app[STATE].engine_url = harness.engine_url + "/webhooks/whatsapp"  # status webhooks
    admin = aiohttp.ClientSession()
    yield Stack(engine, gateway, harness, admin, gw_app[FAKE_NUMBERS], codes)
    await admin.close()
    await harness.close()
    await engine.close()
    await gateway.close()
    shutil.rmtree(config_dir, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="es-ES", viewport={"width": 1280, "height": 860})
    ctx.set_default_timeout(10_000)
    yield ctx
    await ctx.close()


async def sign_in(page: Page, stack: Stack, email: str, password: str = PASSWORD) -> None:
    await page.goto(stack.url + "/console/login")
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña").fill(password)
    await page.get_by_role("button", name="Entrar").click()
