"""The console on a test client: an engine app (memory store, five numbers), members made
through the admin API, and a browser-like client that signs in and posts forms."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from flow_engine.domain.tickets import Ticket
from flow_engine.gateway.recording import RecordingGateway
from flow_engine.settings import Settings
from flow_engine.storage.memory import memory_storage
from flow_engine.web.app import create_app
from flow_engine.web.state import TICKETS
from tests.admin.conftest import ADMIN_TOKEN, NUMBERS, AdminClient, ClientFactory, number_config

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Page:
    status: int
    text: str
    headers: dict[str, str]
    url: str

    @property
    def csrf(self) -> str:
        found = CSRF.search(self.text)
        assert found, "no csrf field on the page"
        return found[1]


@dataclass
class Browser:
    """An HTTP client with its own cookies, speaking forms like a browser."""

    client: aiohttp.ClientSession

    async def get(self, path: str, **kwargs: Any) -> Page:
        async with self.client.get(path, **kwargs) as resp:
            return Page(resp.status, await resp.text(), dict(resp.headers), str(resp.url))

    async def post(self, path: str, data: dict[str, Any], **kwargs: Any) -> Page:
        kwargs.setdefault("allow_redirects", True)
        async with self.client.post(path, data=data, **kwargs) as resp:
            return Page(resp.status, await resp.text(), dict(resp.headers), str(resp.url))

    async def sign_in(self, email: str, password: str = PASSWORD) -> Page:
        form = await self.get("/console/login")
        return await self.post(
            "/console/login", {"csrf": form.csrf, "email": email, "password": password}
        )

    async def csrf(self) -> str:
        return (await self.get("/console/account")).csrf


@dataclass
class Console:
    admin: AdminClient
    factory: ClientFactory
    base: str
    sessions: list[aiohttp.ClientSession]

    @property
    def app(self) -> web.Application:
        return self.admin.app

    async def member(
        self,
        email: str,
        modules: list[str],
        numbers: list[str],
        *,
        password: str | None = PASSWORD,
        name: str = "",
    ) -> str:
        """A member with a profile of ``modules`` on ``numbers`` and a console password;
        returns their id."""
        await self.admin.member_token(email, modules, numbers, name=name)
        found = await self.admin.call("GET", f"/members?q={email}")
        member_id = str(found.body["items"][0]["id"])
        if password is not None:
            reply = await self.admin.call(
                "PUT", f"/members/{member_id}/password", {"password": password}
            )
            assert reply.status == 200, reply.body
        return member_id

    async def browser(self) -> Browser:
        session = aiohttp.ClientSession(
            base_url=self.base, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        self.sessions.append(session)
        return Browser(session)

    async def ticket(self, number: str = NUMBERS[0], **fields: Any) -> Ticket:
        values: dict[str, Any] = {
            "id": f"t_{len(fields)}_{number}",
            "number": number,
            "contact": "5491100000001",
            "contact_name": "Ana",
            "queue": "Otros asuntos",
            "attendants": [],
            "now": 1000.0,
            **fields,
        }
        return await self.app[TICKETS].create(Ticket.open(**values))


def console_settings(**extra: Any) -> Settings:
    return Settings.model_validate(
        {"admin_token": ADMIN_TOKEN, "partitions": 4, "env": "development", **extra}
    )


@pytest.fixture
async def console(aiohttp_client: ClientFactory) -> AsyncIterator[Console]:
    storage = memory_storage()
    for n in NUMBERS:
        await storage.configs.put(n, number_config(n))
    app = create_app(console_settings(), storage=storage, gateway=RecordingGateway())
    client = await aiohttp_client(app)
    base = str(client.make_url("/")).rstrip("/")
    c = Console(AdminClient(client, app, storage), aiohttp_client, base, [])
    yield c
    for session in c.sessions:
        await session.close()
