"""The daily read in one process at a time: two "processes" (two services on one store,
each with its daily reader and worker) and a restart, with a clock the test moves; the
stand-in Graph API counts the reads. On memory and on Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from flow_engine.devtools.fake_gateway import create_fake_gateway_app
from flow_engine.devtools.fake_numbers import NUMBERS as FAKE_NUMBERS
from flow_engine.devtools.fake_numbers import FakeNumbers
from flow_engine.gateway.whatsapp import CloudApiGateway
from flow_engine.health import Health
from flow_engine.settings import Settings
from flow_engine.storage.base import Storage
from tests.admin.conftest import number_config
from tests.health.conftest import LINES, ServerFactory
from tests.support.clock import MovableClock
from tests.support.harness import APP_SECRET, TOKEN

#: 05:00 UTC on a Monday; the check time is 06:00 UTC
START = datetime(2025, 3, 10, 5, 0, tzinfo=UTC).timestamp()


@dataclass
class World:
    storage: Storage
    numbers: FakeNumbers
    clock: MovableClock
    process: Callable[[str], Health]

    def reads(self) -> dict[str, int]:
        return {n: self.numbers.reads.get(n, 0) for n in LINES}


@pytest.fixture
async def world(storage: Storage, aiohttp_server: ServerFactory) -> AsyncIterator[World]:
    gw_app = create_fake_gateway_app(
        engine_url="http://127.0.0.1:9/x", app_secret=APP_SECRET, token=TOKEN
    )
    server: TestServer = await aiohttp_server(gw_app)
    gateway = CloudApiGateway(str(server.make_url("")).rstrip("/"), "v23.0", SecretStr(TOKEN))
    for n, (display, name) in LINES.items():
        await storage.configs.put(n, number_config(n, display_phone_number=display, name=name))
    clock = MovableClock(START)
    settings = Settings.model_validate(
        {"health_check_time": "06:00", "health_timezone": "UTC", "lease_ttl_ms": 5000}
    )

    def process(owner: str) -> Health:
        return Health.build(
            storage.health,
            storage.configs,
            gateway,
            CollectorRegistry(),
            settings,
            owner=owner,
            post_alert=None,
            clock=clock,
        )

    yield World(storage, gw_app[FAKE_NUMBERS], clock, process)
    await gateway.close()


async def run_workers(*processes: Health) -> int:
    ran = 0
    while True:
        done = sum([await p.worker.run_once() for p in processes])
        if done == 0:
            return ran
        ran += done


async def test_the_daily_read_runs_once_a_day_across_two_processes_and_a_restart(
    world: World,
) -> None:
    a, b = world.process("a"), world.process("b")
    assert await a.daily.tick() is None and await b.daily.tick() is None  # before 06:00
    assert await run_workers(a, b) == 0 and world.reads() == dict.fromkeys(LINES, 0)
    world.clock.advance(3600 + 1)  # 06:00:01
    scheduled = [await a.daily.tick(), await b.daily.tick()]
    assert scheduled == ["2025-03-10", None]
    await run_workers(b, a)  # either process runs the reads
    assert world.reads() == dict.fromkeys(LINES, 1)
    # later the same day, and a restarted process: nothing more
    world.clock.advance(6 * 3600)
    restarted = world.process("a-again")
    assert [await p.daily.tick() for p in (a, b, restarted)] == [None, None, None]
    assert await run_workers(a, b, restarted) == 0
    assert world.reads() == dict.fromkeys(LINES, 1)
    for n in LINES:
        record = await world.storage.health.get(n)
        assert record is not None and record.daily_on == "2025-03-10"
        assert [s.day for s in await world.storage.health.snapshots(n)] == ["2025-03-10"]
    # the next day it runs again, once
    world.clock.advance(18 * 3600)  # 06:00:01 on the 11th
    assert sorted([await restarted.daily.tick(), await b.daily.tick()], key=str) == [
        "2025-03-11",
        None,
    ]
    await run_workers(a, b, restarted)
    assert world.reads() == dict.fromkeys(LINES, 2)
    for n in LINES:
        days = [s.day for s in await world.storage.health.snapshots(n)]
        assert days == ["2025-03-10", "2025-03-11"]


async def test_a_process_that_dies_holding_the_lease_is_taken_over(world: World) -> None:
    world.clock.advance(3600 + 1)
    now = world.clock()
    assert await world.storage.health.daily_begin("2025-03-10", "dead", now, 5.0) == "ok"
    survivor = world.process("b")
    assert await survivor.daily.tick() is None  # the dead one's lease still holds
    world.clock.advance(6)
    assert await survivor.daily.tick() == "2025-03-10"
    await run_workers(survivor)
    assert world.reads() == dict.fromkeys(LINES, 1)


async def test_a_read_already_done_today_is_not_done_again(world: World) -> None:
    """A process died between a number's read and the end of its job: the job comes
    back, finds the number read today, and does not read it again."""
    world.clock.advance(3600 + 1)
    a = world.process("a")
    assert await a.daily.tick() == "2025-03-10"
    n = next(iter(LINES))
    await a.service.read(n, cause="daily", daily="2025-03-10")
    assert world.reads()[n] == 1
    await run_workers(a)
    assert world.reads() == dict.fromkeys(LINES, 1)


async def test_a_failed_read_is_retried_and_the_day_still_counts(world: World) -> None:
    world.clock.advance(3600 + 1)
    a = world.process("a")
    world.numbers.token = "rotated"  # the gateway refuses us: 401, code 190
    assert await a.daily.tick() == "2025-03-10"
    await run_workers(a)
    assert world.reads() == dict.fromkeys(LINES, 0)
    n = next(iter(LINES))
    record = await world.storage.health.get(n)
    assert record is not None and record.error is not None and record.error.code == 190
    # a permanent refusal is not retried; the next day reads again
    assert await world.storage.health.pending("daily") == 0
    world.numbers.token = TOKEN
    world.clock.advance(24 * 3600)
    assert await a.daily.tick() == "2025-03-11"
    await run_workers(a)
    assert world.reads() == dict.fromkeys(LINES, 1)


async def test_without_a_check_time_there_is_no_daily_read(world: World) -> None:
    health = Health.build(
        world.storage.health,
        world.storage.configs,
        CloudApiGateway("http://127.0.0.1:9", "v23.0", SecretStr("x")),
        CollectorRegistry(),
        Settings.model_validate({}),
        owner="x",
        post_alert=None,
        clock=world.clock,
    )
    world.clock.advance(10 * 3600)
    assert await health.daily.tick() is None
    await health.start()
    assert health.daily._task is None
    await health.stop()
