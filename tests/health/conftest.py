"""An engine with several numbers, its admin API on loopback, and the development gateway
(the stand-in Graph API) on loopback, on the memory store and on Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from flow_engine.devtools.fake_gateway import STATE, create_fake_gateway_app
from flow_engine.devtools.fake_numbers import NUMBERS as FAKE_NUMBERS
from flow_engine.devtools.fake_numbers import FakeNumbers
from flow_engine.settings import Settings
from flow_engine.web.app import create_app
from flow_engine.web.state import HEALTH, STORAGE
from tests.admin.conftest import ADMIN_TOKEN, AdminClient
from tests.support.harness import APP_SECRET, TOKEN

ADMIN = ADMIN_TOKEN
WABA = "102290129340398"
#: phone_number_id -> (display number, name)
LINES = {
    "200000000000001": ("5511900000001", "Loja Centro"),
    "200000000000002": ("5511900000002", "Loja Norte"),
    "200000000000003": ("5511900000003", "Farmacia Sul"),
    "200000000000004": ("5511900000004", "Farmacia Leste"),
}
N1, N2, N3, N4 = LINES
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
ClientFactory = Callable[[web.Application], Awaitable[Any]]


def midday_zone(now: float | None = None) -> str:
    """An ``Etc/GMT±N`` zone where it is about noon now: days do not turn during a test,
    and a 06:00 check time has passed."""
    hour = datetime.fromtimestamp(time.time() if now is None else now, UTC).hour
    offset = (12 - hour + 12) % 24 - 12  # local = utc + offset, within -12..+11
    # Etc/GMT signs are inverted: Etc/GMT-3 is UTC+3
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def write_configs(directory: Path) -> Path:
    for number, (display, name) in LINES.items():
        doc = {"phone_number_id": number, "display_phone_number": display, "name": name}
        (directory / f"{number}.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return directory


@dataclass
class Stack:
    """The engine (``admin``: its API as the super-admin) and the fake gateway."""

    admin: AdminClient
    gateway_url: str
    numbers: FakeNumbers
    session: aiohttp.ClientSession
    codes: list[tuple[str, str, str]] = field(default_factory=list)  # (number, method, code)

    @property
    def app(self) -> web.Application:
        return self.admin.app

    @property
    def engine_url(self) -> str:
        return str(self.admin.client.make_url("")).rstrip("/")

    def set_number(self, number: str, **fields: Any) -> None:
        """Change the number's fields at the stand-in Graph API."""
        self.numbers.update(number, **fields)

    async def fake(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, self.gateway_url + path, json=body) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def quality_update(self, number: str, event: str, rating: str | None = None) -> Any:
        """The fake gateway sets the rating and posts the signed webhook to the engine."""
        spec: dict[str, Any] = {"phone_number_id": number, "event": event, "waba_id": WABA}
        if rating:
            spec["quality_rating"] = rating
        result = await self.fake("POST", "/_fake/quality-update", spec)
        assert result["status"] == 200, result
        return result

    async def refresh(self, number: str) -> Any:
        reply = await self.admin.call("POST", f"/numbers/{number}/gateway/refresh")
        assert reply.status == 200, reply.body
        return reply.body

    async def wait_class(self, number: str, klass: str, within: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            reply = await self.admin.call("GET", "/health")
            row = next(r for r in reply.body["numbers"] if r["number"] == number)
            if row["class"] == klass:
                return dict(row)
            assert time.monotonic() < deadline, f"{number} is still {row['class']}"
            await asyncio.sleep(0.05)


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture(params=["memory", "redis"])
async def stack_of(
    request: pytest.FixtureRequest,
    aiohttp_server: ServerFactory,
    aiohttp_client: ClientFactory,
    tmp_path: Path,
) -> AsyncIterator[StackFactory]:
    """Make an engine (with settings ``overrides``) wired to a fresh fake gateway."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    session = aiohttp.ClientSession()
    made: list[Stack] = []

    async def make(**overrides: Any) -> Stack:
        codes: list[tuple[str, str, str]] = []
        gw_app = create_fake_gateway_app(
            engine_url="http://127.0.0.1:9/unused",
            app_secret=APP_SECRET,
            token=TOKEN,
            on_code=lambda number, _doc, method, code: codes.append((number, method, code)),
        )
        for number, (display, name) in LINES.items():
            gw_app[FAKE_NUMBERS].update(number, display_phone_number=display, verified_name=name)
        gateway = await aiohttp_server(gw_app)
        gw_url = str(gateway.make_url("")).rstrip("/")
        config_dir = tmp_path / f"configs-{len(made)}"
        config_dir.mkdir()
        settings = Settings.model_validate(
            {
                "whatsapp_api_url": gw_url,
                "whatsapp_token": TOKEN,
                "whatsapp_app_secret": APP_SECRET,
                "whatsapp_verify_token": "verify-me",
                "admin_token": ADMIN,
                "config_dir": write_configs(config_dir),
                "redis_url": redis_url,
                "partitions": 4,
                "lease_ttl_ms": 1000,
                "health_timezone": midday_zone(),
                "health_check_time": "23:59",  # no daily read unless a test asks for one
                **overrides,
            }
        )
        app = create_app(settings)
        client = await aiohttp_client(app)
        admin = AdminClient(client, app, app[STORAGE], ADMIN)
        stack = Stack(admin, gw_url, gw_app[FAKE_NUMBERS], session, codes)
        gw_app[STATE].engine_url = stack.engine_url + "/webhooks/whatsapp"
        made.append(stack)
        return stack

    yield make
    await session.close()


@pytest.fixture
async def stack(stack_of: StackFactory) -> Stack:
    return await stack_of()


def health_of(app: web.Application) -> Any:
    return app[HEALTH]
