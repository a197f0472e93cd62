"""A real engine (memory or Redis) and the real development gateway serving the fixtures'
template catalog and posting status webhooks back to the engine, both on loopback."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from flow_engine.devtools.fake_gateway import STATE, create_fake_gateway_app
from flow_engine.devtools.fake_numbers import NUMBERS
from flow_engine.devtools.fake_templates import FakeCatalog
from flow_engine.web.app import create_app
from flow_engine.web.state import NOTIFY
from tests.conftest import FAST_RETRY, engine_settings
from tests.support.clock import MovableClock
from tests.support.harness import APP_SECRET, TOKEN, Harness

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
NUMBER = "100000000000001"  # call center with Ventas, Soporte técnico, Otros asuntos
OTHER = "100000000000002"  # call center off, pt-BR, São Paulo
DISPLAY = {NUMBER: "15550000001", OTHER: "5511955550002"}  # as in the fixtures
ADMIN = "admin-token"
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


@dataclass
class Reply:
    status: int
    body: Any


@dataclass
class NotifyStack:
    h: Harness
    app: web.Application
    gateway: web.Application
    clock: MovableClock
    catalog: FakeCatalog
    session: aiohttp.ClientSession = field(default_factory=aiohttp.ClientSession)
    #: the WABAs the stand-in Graph API does not serve yet (``catalog_down``)
    held_wabas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def catalog_up(self) -> None:
        """The stand-in Graph API serves the WABAs it held back."""
        self.catalog.wabas.update(self.held_wabas)
        self.held_wabas.clear()

    async def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str = ADMIN,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> Reply:
        all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        url = self.h.engine_url + "/api/v1" + path
        async with self.session.request(
            method, url, json=body, data=data, headers=all_headers
        ) as r:
            text = await r.text()
            try:
                parsed: Any = await r.json(content_type=None) if text else None
            except ValueError:
                parsed = text
            return Reply(r.status, parsed)

    async def switches(self, **values: Any) -> None:
        async with self.session.post(self.h.gateway_url + "/_fake/statuses", json=values) as r:
            assert r.status == 200, await r.text()

    async def templates_sent(self, to: str | None = None) -> list[dict[str, Any]]:
        return [m for m in await self.h.sent(to) if m["type"] == "template"]

    async def campaign(self, cid: str) -> dict[str, Any]:
        r = await self.api("GET", f"/campaigns/{cid}")
        assert r.status == 200, r.body
        return dict(r.body["campaign"])

    async def wait_campaign(
        self, cid: str, done: Callable[[dict[str, Any]], bool], within: float = 20.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            c = await self.campaign(cid)
            if done(c) or time.monotonic() > deadline:
                return c
            await asyncio.sleep(0.05)

    async def wait_notification(
        self, nid: str, status: str, within: float = 10.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            r = await self.api("GET", f"/notifications/{nid}")
            assert r.status == 200, r.body
            if r.body["notification"]["status"] == status or time.monotonic() > deadline:
                return dict(r.body["notification"])
            await asyncio.sleep(0.05)

    async def create_campaign(self, csv_text: str, **spec: Any) -> Reply:
        return await self.api("POST", "/campaigns", {"csv": csv_text, **spec})

    def set_number(self, number: str, **fields: Any) -> None:
        """Change the number's phone number fields at the stand-in Graph API."""
        self.gateway[NUMBERS].update(number, **fields)

    async def refresh(self, number: str, **fields: Any) -> dict[str, Any]:
        """Set ``fields`` at the stand-in Graph API, then have the engine read them."""
        self.set_number(number, display_phone_number=DISPLAY[number], **fields)
        r = await self.api("POST", f"/numbers/{number}/gateway/refresh")
        assert r.status == 200, r.body
        return dict(r.body)

    async def quality_update(self, number: str, rating: str, event: str = "FLAGGED") -> None:
        """The development gateway sets the rating and posts the signed
        ``phone_number_quality_update`` (naming the display number) to the engine."""
        self.set_number(number, display_phone_number=DISPLAY[number])
        spec = {"phone_number_id": number, "quality_rating": rating, "event": event}
        async with self.session.post(self.h.gateway_url + "/_fake/quality-update", json=spec) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["status"] == 200

    async def sent_from(self, number: str) -> int:
        return sum(1 for m in await self.templates_sent() if m["phone_number_id"] == number)


def config_dir(tmp: Path, changes: dict[str, dict[str, Any]] | None = None) -> Path:
    """The fixtures of two demo numbers of one WABA, with ``changes`` per number."""
    out = tmp / "configs"
    out.mkdir(exist_ok=True)
    for number in (NUMBER, OTHER):
        doc = yaml.safe_load((FIXTURES / f"{number}.yaml").read_text("utf-8"))
        for key, value in (changes or {}).get(number, {}).items():
            if isinstance(value, dict) and isinstance(doc.get(key), dict):
                doc[key] = {**doc[key], **value}
            else:
                doc[key] = value
        (out / f"{number}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return out


StackFactory = Callable[..., Awaitable[NotifyStack]]


@pytest.fixture(params=["memory", "redis"])
async def notify_factory(
    request: pytest.FixtureRequest, aiohttp_server: ServerFactory, tmp_path: Path
) -> AsyncIterator[StackFactory]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    stacks: list[NotifyStack] = []

    async def make(
        changes: dict[str, dict[str, Any]] | None = None,
        sync: bool = True,
        catalog_down: bool = False,
        start_retry_s: float | None = None,
        **settings: Any,
    ) -> NotifyStack:
        """``catalog_down``: the stand-in Graph API answers the template catalog reads with
        an error until ``catalog_up()`` (and nothing syncs it here); ``start_retry_s``: the
        engine's delay before reading a catalog again whose start read failed."""
        catalog = FakeCatalog.from_file(FIXTURES / "catalog" / "templates.json")
        catalog.delay_s = 0.02
        catalog.page_size = 2  # the catalog comes in three pages
        held = dict(catalog.wabas) if catalog_down else {}
        if catalog_down:
            catalog.wabas.clear()
        gw_app = create_fake_gateway_app(
            engine_url="http://127.0.0.1:9/unused",
            app_secret=APP_SECRET,
            token=TOKEN,
            catalog=catalog,
        )
        gw = await aiohttp_server(gw_app)
        gw_url = str(gw.make_url("")).rstrip("/")
        where = tmp_path / f"stack{len(stacks)}"
        where.mkdir()
        clock = MovableClock()
        options = {
            "send_rate_per_second": 1000,
            "notify_retry_base_s": 0.05,
            # a send that times out is sent again (the Cloud API has no idempotency key):
            # leave a loaded machine's loopback gateway time to answer hundreds at once
            "whatsapp_timeout_s": 10,
            **settings,
        }
        app = create_app(
            engine_settings(gw_url, config_dir(where, changes), redis_url, **options),
            retry_policy=FAST_RETRY,
            clock=clock,
        )
        if start_retry_s is not None:
            app[NOTIFY].catalogs.start_retry_s = start_retry_s
        server = await aiohttp_server(app)
        h = Harness(str(server.make_url("")).rstrip("/"), gw_url)
        gw_app[STATE].engine_url = h.engine_url + "/webhooks/whatsapp"
        stack = NotifyStack(h, app, gw_app, clock, catalog, held_wabas=held)
        stacks.append(stack)
        if sync and not catalog_down:
            for number in (NUMBER, OTHER):
                r = await stack.api("POST", f"/numbers/{number}/templates/sync")
                assert r.status == 200, r.body
        return stack

    yield make
    for s in stacks:
        await s.session.close()
        await s.h.close()


@pytest.fixture
async def stack(notify_factory: StackFactory) -> NotifyStack:
    return await notify_factory()


def copy_fixture(name: str, to: Path) -> Path:
    return Path(shutil.copy(FIXTURES / name, to))
