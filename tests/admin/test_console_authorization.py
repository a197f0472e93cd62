"""Every console route, walked from the router like the API's (tests/admin/
test_authorization.py), with people's sessions instead of bearer tokens:

(a) a member whose profile grants no module, linked to all five numbers: the 403 page on
    every route but their own account, the home page and signing out;
(b) a member with every module, linked to none of the numbers: the 403 page on every
    route about one of them;
(c) no session: the sign-in page (GET) or 401, on every route that is not public;
and a console route added without a declaration is refused to everyone.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import flow_engine.console.app as console_app_module
from flow_engine.console.registry import PUBLIC, page_of
from flow_engine.domain.tickets import Ticket
from flow_engine.gateway.recording import RecordingGateway
from flow_engine.settings import Settings
from flow_engine.storage.memory import memory_storage
from flow_engine.web.app import create_app
from flow_engine.web.state import TICKETS
from tests.admin.conftest import (
    ADMIN_TOKEN,
    NUMBERS,
    AdminClient,
    ClientFactory,
    number_config,
)
from tests.admin.test_authorization import Route, application_routes, is_console

PARAM = re.compile(r"\{([^{}]+)\}")
PASSWORD = "walker password 1"
#: what a signed-in member without any module may still use
ALLOWED_WITHOUT_MODULE = {
    ("GET", "/console/"),
    ("GET", "/console/account"),
    ("POST", "/console/account/password"),
    ("POST", "/console/account/language"),
    ("POST", "/console/logout"),
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Walker:
    def __init__(self, admin: AdminClient, base: str) -> None:
        self.admin = admin
        self.base = base
        self.sessions: list[aiohttp.ClientSession] = []
        self.ids: dict[str, str] = {}

    async def close(self) -> None:
        for s in self.sessions:
            await s.close()

    async def person(
        self, email: str, modules: list[str], numbers: list[str]
    ) -> tuple[aiohttp.ClientSession, str]:
        """A signed-in browser of a new member, and its CSRF token."""
        await self.admin.member_token(email, modules, numbers)
        found = await self.admin.call("GET", f"/members?q={email}")
        member_id = found.body["items"][0]["id"]
        reply = await self.admin.call(
            "PUT", f"/members/{member_id}/password", {"password": PASSWORD}
        )
        assert reply.status == 200, reply.body
        session = self.anonymous()
        async with session.get("/console/login") as resp:
            token = CSRF.search(await resp.text())
        assert token
        form = {"csrf": token[1], "email": email, "password": PASSWORD}
        async with session.post("/console/login", data=form) as resp:
            page = await resp.text()
            assert resp.status == 200, page[:300]
        csrf = CSRF.search(page)
        assert csrf
        return session, csrf[1]

    def anonymous(self) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(
            base_url=self.base, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        self.sessions.append(session)
        return session

    def url(self, route: Route) -> str:
        def fill(m: re.Match[str]) -> str:
            assert m[1] in self.ids, f"{route}: no real id for {{{m[1]}}}: add one"
            return self.ids[m[1]]

        return PARAM.sub(fill, route.path)


async def call(
    session: aiohttp.ClientSession, route: Route, url: str, csrf: str | None
) -> tuple[int, str, dict[str, str]]:
    kwargs: dict[str, Any] = {"allow_redirects": False}
    if route.method == "POST":
        kwargs["data"] = {"csrf": csrf} if csrf else {}
    async with session.request(route.method, url, **kwargs) as resp:
        return resp.status, await resp.text() if route.method != "HEAD" else "", dict(resp.headers)


def console_routes(app: web.Application) -> list[Route]:
    return [r for r in application_routes(app) if is_console(r.path) and r.path != "/console"]


def public(route: Route) -> bool:
    page = getattr(route.handler, "__page__", None)
    return page is not None and page.permission == PUBLIC


@pytest.fixture
async def walker(aiohttp_client: ClientFactory) -> AsyncIterator[Walker]:
    storage = memory_storage()
    for n in NUMBERS:
        await storage.configs.put(n, number_config(n))
    settings = Settings.model_validate(
        {"admin_token": ADMIN_TOKEN, "partitions": 4, "env": "development"}
    )
    app = create_app(settings, storage=storage, gateway=RecordingGateway())
    client = await aiohttp_client(app)
    w = Walker(AdminClient(client, app, storage), str(client.make_url("/")).rstrip("/"))
    ticket = await app[TICKETS].create(
        Ticket.open(
            id="t_walk",
            number=NUMBERS[0],
            contact="5491100000001",
            contact_name="Ana",
            queue="Otros asuntos",
            attendants=[],
            now=1000.0,
        )
    )
    other = await w.admin.member_token("other@example.com", ["desk"], NUMBERS)
    me = await w.admin.call("GET", "/me", token=other)
    w.ids = {
        "number": NUMBERS[0],
        "ticket_id": ticket.id,
        "member_id": me.body["member_id"],
        "profile_id": me.body["profile_id"],
        "token_id": other.split("_")[1],
        "version": "1",
        "name": "console.css",
        "tab": "flow",
        "notification_id": "n_unknown",
        "campaign_id": "cmp_unknown",
        "action": "pause",
    }
    yield w
    await w.close()


async def test_every_console_route_is_declared(walker: Walker) -> None:
    routes = console_routes(walker.admin.app)
    assert len(routes) > 10  # not vacuous
    assert [str(r) for r in routes if getattr(r.handler, "__page__", None) is None] == []


async def test_a_member_without_modules_gets_the_403_page_everywhere(walker: Walker) -> None:
    session, csrf = await walker.person("nomodule@example.com", [], NUMBERS)
    problems = []
    walked = 0
    for route in console_routes(walker.admin.app):
        if public(route) or route.method == "HEAD":
            continue
        walked += 1
        status, text, _ = await call(session, route, walker.url(route), csrf)
        if (route.method, route.path) in ALLOWED_WITHOUT_MODULE:
            if status == 403:
                problems.append(f"{route}: 403 for a signed-in member")
        elif status != 403:
            problems.append(f"{route}: {status} {text[:120]!r}, expected the 403 page")
        if route.path == "/console/logout":
            session, csrf = await walker.person("nomodule2@example.com", [], NUMBERS)
    assert problems == []
    assert walked > 10


async def test_a_member_without_numbers_gets_403_on_every_route_about_one(walker: Walker) -> None:
    session, csrf = await walker.person("all@example.com", [], [])
    # every module, no number
    from flow_engine.admin.permissions import Module

    session, csrf = await walker.person("every@example.com", [m.value for m in Module], [])
    problems = []
    about = [
        r
        for r in console_routes(walker.admin.app)
        if "{number}" in r.path or "{ticket_id}" in r.path
    ]
    assert about  # not vacuous
    for route in about:
        if route.method == "HEAD":
            continue
        status, text, _ = await call(session, route, walker.url(route), csrf)
        if status != 403:
            problems.append(f"{route}: {status} {text[:120]!r}, expected 403")
    assert problems == []


async def test_lists_of_a_member_without_numbers_show_none_of_them(walker: Walker) -> None:
    from flow_engine.admin.permissions import Module

    session, _ = await walker.person("lists@example.com", [m.value for m in Module], [])
    lists = [
        "/console/desk",
        "/console/numbers",
        "/console/numbers?q=1000",
        "/console/templates",
        "/console/human-service",
        "/console/access/numbers",
        "/console/access/members",
        "/console/access/profiles",
    ]
    for path in lists:
        async with session.get(path) as resp:
            text = await resp.text()
        assert resp.status == 200, path
        leaked = [n for n in NUMBERS if n in text]
        assert leaked == [], f"{path} shows {leaked}"
    # not vacuous: a member of the numbers sees them in the same lists
    full, _ = await walker.person("full@example.com", [m.value for m in Module], NUMBERS)
    for path in ["/console/numbers", "/console/templates", "/console/access/numbers"]:
        async with full.get(path) as resp:
            assert NUMBERS[0] in await resp.text(), path


async def test_without_a_session_nothing_but_the_public_routes_answers(walker: Walker) -> None:
    session = walker.anonymous()
    problems = []
    for route in console_routes(walker.admin.app):
        if public(route) or route.method == "HEAD":
            continue
        status, _, headers = await call(session, route, walker.url(route), None)
        if route.method == "GET" and status == 303:
            if not headers.get("Location", "").startswith("/console/login"):
                problems.append(f"{route}: redirects to {headers.get('Location')}")
        elif status != 401:
            problems.append(f"{route}: {status}, expected the sign-in page or 401")
    assert problems == []


async def test_a_console_route_without_a_declaration_serves_nobody(
    aiohttp_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = console_app_module.console_app

    async def leak(request: web.Request) -> web.Response:
        return web.Response(text="everyone sees this")

    def leaky() -> web.Application:
        app = real()
        app.router.add_get("/debug", leak)
        return app

    monkeypatch.setattr("flow_engine.web.app.console_app", leaky)
    app = create_app(
        Settings.model_validate({"admin_token": ADMIN_TOKEN, "env": "development"}),
        storage=memory_storage(),
        gateway=RecordingGateway(),
    )
    client = await aiohttp_client(app)
    async with client.get("/console/debug") as resp:
        assert resp.status == 403
        assert "everyone sees this" not in await resp.text()
    assert page_of  # the lookup the middleware uses
