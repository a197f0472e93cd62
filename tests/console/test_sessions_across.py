"""Sessions live in the store: any engine process serves any browser, an idle session
ends, and the live desk of one process sees a ticket opened through another."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest

from flow_engine.domain.tickets import Ticket
from flow_engine.gateway.recording import RecordingGateway
from flow_engine.storage.base import Storage
from flow_engine.storage.redis import redis_storage
from flow_engine.web.app import create_app
from flow_engine.web.state import SIGNIN, TICKETS
from tests.admin.conftest import NUMBERS, AdminClient, ClientFactory, number_config
from tests.console.conftest import Browser, Console, console_settings
from tests.console.test_desk import read_events


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[list[Storage]]:
    """Two clients of one Redis, closed after the apps that use them have stopped."""
    made = [redis_storage(redis_url, partitions=4) for _ in range(2)]
    yield made
    for s in made:
        await s.close()


@pytest.fixture
async def two_processes(
    stores: list[Storage], aiohttp_client: ClientFactory
) -> AsyncIterator[tuple[Console, str]]:
    """Two engine apps on one Redis: a console on the first, the second's base URL."""
    for n in NUMBERS:
        await stores[0].configs.put(n, number_config(n))
    apps = [create_app(console_settings(), storage=s, gateway=RecordingGateway()) for s in stores]
    clients = [await aiohttp_client(a) for a in apps]
    base = [str(c.make_url("/")).rstrip("/") for c in clients]
    console = Console(AdminClient(clients[0], apps[0], stores[0]), aiohttp_client, base[0], [])
    yield console, base[1]
    for session in console.sessions:
        await session.close()


async def test_a_session_made_by_one_process_is_served_by_another(
    two_processes: tuple[Console, str],
) -> None:
    console, other = two_processes
    await console.member("ana@example.com", ["desk"], NUMBERS[:1], name="Ana")
    b = await console.browser()
    assert (await b.sign_in("ana@example.com")).status == 200
    async with aiohttp.ClientSession(base_url=other, cookie_jar=b.client.cookie_jar) as there:
        elsewhere = Browser(there)
        page = await elsewhere.get("/console/desk")
        assert page.status == 200 and "Ana" in page.text

        async def ticket_through_the_first() -> None:
            await console.app[TICKETS].create(
                Ticket.open(
                    id="t_across",
                    number=NUMBERS[0],
                    contact="5491100000001",
                    contact_name="Zoe",
                    queue="Otros asuntos",
                    attendants=[],
                    now=1000.0,
                )
            )

        events = await read_events(elsewhere, "/console/desk/stream", 2, ticket_through_the_first)
        assert "Zoe" in events[-1]["html"]
        sid = next(c.value for c in b.client.cookie_jar if c.key == "fe_session")
        await elsewhere.post("/console/logout", {"csrf": page.csrf})
    # signed out on the second process: the old cookie opens nothing on the first either
    async with aiohttp.ClientSession(base_url=console.base) as first:
        cookie = {"Cookie": f"fe_session={sid}"}
        async with first.get("/console/", headers=cookie, allow_redirects=False) as resp:
            assert resp.status == 303


async def test_an_idle_session_ends_and_a_used_one_goes_on(console: Console) -> None:
    signin = console.app[SIGNIN]
    signin.policy = dataclasses.replace(signin.policy, idle_s=1)
    await console.member("ana@example.com", ["desk"], NUMBERS[:1])
    idle, used = await console.browser(), await console.browser()
    await idle.sign_in("ana@example.com")
    await used.sign_in("ana@example.com")
    for _ in range(3):
        await asyncio.sleep(0.5)
        assert (await used.get("/console/", allow_redirects=False)).status == 200
    assert (await idle.get("/console/", allow_redirects=False)).status == 303


async def test_a_session_ends_after_its_longest_life_however_used(console: Console) -> None:
    signin = console.app[SIGNIN]
    await console.member("ana@example.com", ["desk"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("ana@example.com")
    signin.policy = dataclasses.replace(signin.policy, max_age_s=0)
    await asyncio.sleep(0.01)
    assert (await b.get("/console/", allow_redirects=False)).status == 303
