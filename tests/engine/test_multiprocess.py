"""Several engine processes on one Redis (a server, then a 3-master cluster), and a process
killed mid-message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import SHARED_STORES, store_url, write_demo_config
from tests.support.harness import Harness, text_of
from tests.support.processes import EngineProcess, lease_holder_pid, process_env, wait_balanced

pytestmark = pytest.mark.slow


@pytest.fixture(params=SHARED_STORES)
def shared_url(request: pytest.FixtureRequest) -> str:
    """One redis-server, then a 3-master Redis Cluster."""
    return store_url(request, request.param)


@pytest.fixture
async def two_engines(
    shared_url: str, gateway_server: TestServer, tmp_path: Path
) -> AsyncIterator[tuple[Harness, list[EngineProcess]]]:
    gw_url = str(gateway_server.make_url("")).rstrip("/")
    env = process_env(shared_url, gw_url, write_demo_config(tmp_path))
    procs = await asyncio.gather(*(asyncio.to_thread(EngineProcess, env) for _ in range(2)))
    h = Harness(procs[0].url, gw_url)
    yield h, list(procs)
    await h.close()
    for p in procs:
        await asyncio.to_thread(p.stop)


async def test_two_processes_200_contacts_in_order_none_doubled(
    two_engines: tuple[Harness, list[EngineProcess]], shared_url: str
) -> None:
    h, procs = two_engines
    await wait_balanced(shared_url, 2)
    contacts = [f"5511900{i:06d}" for i in range(200)]

    async def converse(i: int, contact: str) -> None:
        for step in range(3):  # alternate the process that receives the webhook
            await h.say(contact, f"m{step}", engine_url=procs[(i + step) % 2].url)

    await asyncio.gather(*(converse(i, c) for i, c in enumerate(contacts)))
    await h.wait_sent(600, within=60)
    sent = await h.settle(quiet=1.0)
    by_contact: dict[str, list[str]] = {}
    for record in sent:
        by_contact.setdefault(record["to"], []).append(text_of(record))
    assert len(sent) == 600
    for contact in contacts:
        assert by_contact[contact] == ["1:m0", "2:m1", "3:m2"], contact


async def test_kill_9_while_sending_the_other_process_delivers_once(
    two_engines: tuple[Harness, list[EngineProcess]], shared_url: str
) -> None:
    h, procs = two_engines
    await wait_balanced(shared_url, 2)
    contact = "5511988887777"
    await h.fault(hold=True)
    await h.say(contact, "hola")
    await asyncio.sleep(0.5)  # the owner has saved the reply and is stuck sending it
    victim_pid = await lease_holder_pid(shared_url, contact)
    victim = next(p for p in procs if p.proc.pid == victim_pid)
    survivor = next(p for p in procs if p is not victim)
    await asyncio.to_thread(victim.kill9)
    await h.fault(hold=False)
    await h.wait_sent(1, contact, within=20)
    await h.say(contact, "again", engine_url=survivor.url)
    await h.wait_sent(2, contact, within=20)
    assert [text_of(r) for r in await h.settle(contact)] == ["1:hola", "2:again"]


async def test_kill_9_mid_message_the_other_process_handles_it(
    two_engines: tuple[Harness, list[EngineProcess]], shared_url: str
) -> None:
    h, procs = two_engines
    await wait_balanced(shared_url, 2)
    contact = "5511977776666"
    await h.say(contact, "slow hola")  # the flow sleeps 3 s before answering
    await asyncio.sleep(0.5)
    victim_pid = await lease_holder_pid(shared_url, contact)
    victim = next(p for p in procs if p.proc.pid == victim_pid)
    await asyncio.to_thread(victim.kill9)
    assert await h.sent(contact) == []
    sent = await h.wait_sent(1, contact, within=20)
    assert [text_of(r) for r in await h.settle(contact)] == ["1:slow hola"]
    assert sent[0]["to"] == contact


async def test_kill_9_while_a_retry_is_scheduled_the_other_process_sends_it_once_in_order(
    two_engines: tuple[Harness, list[EngineProcess]], shared_url: str
) -> None:
    """Issue 10: the retry's due time and attempts are kept in the outbox, so the process
    that takes the partition over finishes the schedule: once, and before the next reply."""
    h, procs = two_engines
    await wait_balanced(shared_url, 2)
    contact = "5511966665555"
    await h.fault(code=131056, http_status=400, to=contact, seconds=3)  # pair rate limit
    await h.say(contact, "a")
    deadline = time.monotonic() + 20
    while not await _failures(h, contact):  # its first attempt failed: a retry is due in 1 s
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    victim_pid = await lease_holder_pid(shared_url, contact)
    victim = next(p for p in procs if p.proc.pid == victim_pid)
    survivor = next(p for p in procs if p is not victim)
    await asyncio.to_thread(victim.kill9)
    await h.say(contact, "b", engine_url=survivor.url)
    await h.wait_sent(2, contact, within=40)
    assert [text_of(r) for r in await h.settle(contact, quiet=1.0)] == ["1:a", "2:b"]


async def _failures(h: Harness, to: str) -> list[object]:
    async with h.session.get(h.gateway_url + "/_fake/failures") as r:
        return [f for f in (await r.json())["failures"] if f["to"] == to]
