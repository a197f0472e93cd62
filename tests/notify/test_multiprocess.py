"""Two real engine processes on one Redis, and the one driving a campaign killed with
``kill -9`` in the middle of it: the other takes the campaign over and every recipient
gets the template exactly once, none skipped."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from flow_engine.devtools.fake_gateway import STATE, create_fake_gateway_app
from flow_engine.devtools.fake_templates import FakeCatalog
from tests.engine.test_multiprocess import process_env
from tests.notify.conftest import FIXTURES, NUMBER, config_dir
from tests.support.harness import APP_SECRET, TOKEN, Harness
from tests.support.processes import EngineProcess

pytestmark = pytest.mark.slow
ADMIN = {"Authorization": "Bearer admin-token"}
RECIPIENTS = 300


@pytest.fixture
async def world(
    redis_url: str, aiohttp_server: Any, tmp_path: Path
) -> AsyncIterator[tuple[Harness, list[EngineProcess], aiohttp.ClientSession]]:
    catalog = FakeCatalog.from_file(FIXTURES / "catalog" / "templates.json")
    catalog.mode = "off"  # no status webhooks: only the marks may stop a second send
    gw_app = create_fake_gateway_app(
        engine_url="http://127.0.0.1:9/unused",
        app_secret=APP_SECRET,
        token=TOKEN,
        catalog=catalog,
    )
    gw: TestServer = await aiohttp_server(gw_app)
    gw_url = str(gw.make_url("")).rstrip("/")
    env = {
        **process_env(
            redis_url,
            gw_url,
            config_dir(tmp_path, {NUMBER: {"notifications": {"messaging_limit": None}}}),
        ),
        "FLOW_ENGINE_WHATSAPP_TIMEOUT_S": "2",  # claims of a dead driver lapse after 7 s
    }
    procs = await asyncio.gather(
        *(
            asyncio.to_thread(EngineProcess, env, "tests.support.base_engine_proc")
            for _ in range(2)
        )
    )
    gw_app[STATE].engine_url = procs[0].url + "/webhooks/whatsapp"
    h = Harness(procs[0].url, gw_url)
    session = aiohttp.ClientSession(headers=ADMIN)
    yield h, list(procs), session
    await session.close()
    await h.close()
    for p in procs:
        await asyncio.to_thread(p.stop)


async def driver_pid(redis_url: str, campaign_id: str) -> int:
    r = Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            owner = await r.get(f"fe:{{c{campaign_id}}}:lease")
            if owner is not None:
                return int(owner.decode().split(":")[1])
            await asyncio.sleep(0.05)
    finally:
        await r.aclose()
    raise AssertionError("no process leased the campaign")


async def test_kill_9_of_the_driver_mid_campaign_every_recipient_once(
    world: tuple[Harness, list[EngineProcess], aiohttp.ClientSession], redis_url: str
) -> None:
    h, procs, session = world
    api = procs[1].url + "/api/v1"
    async with session.post(f"{api}/numbers/{NUMBER}/templates/sync") as r:
        assert r.status == 200, await r.text()
    contacts = [f"54911{30000000 + i:08d}" for i in range(RECIPIENTS)]
    csv_text = "telefono\n" + "\n".join(contacts) + "\n"
    body = {
        "name": "kill -9",
        "number": NUMBER,
        "phone_column": "telefono",
        "template": {"name": "recordatorio_cita", "language": "es"},
        "parameters": {"body": {"nombre": "Ana", "fecha": "mañana"}},
        "per_second": 100,
        "csv": csv_text,
    }
    async with session.post(f"{api}/campaigns", json=body) as r:
        assert r.status == 201, await r.text()
        cid = (await r.json())["campaign"]["id"]
    await h.wait_sent(80, within=20)
    await h.fault(hold=True)  # the driver's next sends hang at the gateway, unrecorded
    await asyncio.sleep(0.3)
    victim_pid = await driver_pid(redis_url, cid)
    victim = next(p for p in procs if p.proc.pid == victim_pid)
    survivor = next(p for p in procs if p is not victim)
    await asyncio.to_thread(victim.kill9)
    await h.fault(hold=False)
    deadline = time.monotonic() + 60
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        async with session.get(f"{survivor.url}/api/v1/campaigns/{cid}") as r:
            state = (await r.json())["campaign"]
        if state["state"] == "completed":
            break
        await asyncio.sleep(0.2)
    assert state["state"] == "completed", state
    sent = Counter(m["to"] for m in await h.sent() if m["type"] == "template")
    assert sorted(sent) == sorted(contacts)  # none skipped
    assert max(sent.values()) == 1, [p for p, n in sent.items() if n > 1]  # none doubled
    assert state["counts"]["sent"] == RECIPIENTS and state["counts"]["pending"] == 0
