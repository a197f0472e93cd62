"""The daily read across two real engine processes on one Redis, and a restart: every
number is read once that day, whichever process does it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from flow_engine.devtools.fake_gateway import create_fake_gateway_app
from flow_engine.devtools.fake_numbers import NUMBERS as FAKE_NUMBERS
from flow_engine.devtools.fake_numbers import FakeNumbers
from tests.health.conftest import ADMIN, LINES, ServerFactory, midday_zone, write_configs
from tests.support.harness import APP_SECRET, TOKEN
from tests.support.processes import EngineProcess

pytestmark = pytest.mark.slow


def process_env(redis_url: str, gateway_url: str, config_dir: Path) -> dict[str, str]:
    return {
        "FLOW_ENGINE_ENV": "production",
        "FLOW_ENGINE_REDIS_URL": redis_url,
        "FLOW_ENGINE_WHATSAPP_API_URL": gateway_url,
        "FLOW_ENGINE_WHATSAPP_TOKEN": TOKEN,
        "FLOW_ENGINE_WHATSAPP_APP_SECRET": APP_SECRET,
        "FLOW_ENGINE_WHATSAPP_VERIFY_TOKEN": "verify-me",
        "FLOW_ENGINE_ADMIN_TOKEN": ADMIN,
        "FLOW_ENGINE_CONFIG_DIR": str(config_dir),
        "FLOW_ENGINE_PARTITIONS": "4",
        "FLOW_ENGINE_LEASE_TTL_MS": "1000",
        # it is about noon there: 06:00 has passed, and the day does not turn meanwhile
        "FLOW_ENGINE_HEALTH_TIMEZONE": midday_zone(),
        "FLOW_ENGINE_HEALTH_CHECK_TIME": "06:00",
    }


@pytest.fixture
async def gateway(aiohttp_server: ServerFactory) -> AsyncIterator[tuple[str, FakeNumbers]]:
    app = create_fake_gateway_app(
        engine_url="http://127.0.0.1:9/unused", app_secret=APP_SECRET, token=TOKEN
    )
    for number, (display, name) in LINES.items():
        app[FAKE_NUMBERS].update(number, display_phone_number=display, verified_name=name)
    server: TestServer = await aiohttp_server(app)
    yield str(server.make_url("")).rstrip("/"), app[FAKE_NUMBERS]


async def wait_reads(numbers: FakeNumbers, within: float = 30.0) -> dict[str, int]:
    deadline = time.monotonic() + within
    while True:
        reads = {n: numbers.reads.get(n, 0) for n in LINES}
        if all(reads.values()) or time.monotonic() > deadline:
            return reads
        await asyncio.sleep(0.1)


async def test_two_processes_and_a_restart_read_each_number_once_a_day(
    redis_url: str, gateway: tuple[str, FakeNumbers], tmp_path: Path
) -> None:
    url, numbers = gateway
    env = process_env(redis_url, url, write_configs(tmp_path))
    procs = list(await asyncio.gather(*(asyncio.to_thread(EngineProcess, env) for _ in range(2))))
    try:
        assert await wait_reads(numbers) == dict.fromkeys(LINES, 1)
        await asyncio.sleep(3)  # both daily readers and workers have had their turns
        assert {n: numbers.reads.get(n, 0) for n in LINES} == dict.fromkeys(LINES, 1)
        # a restart the same day
        await asyncio.to_thread(procs[0].stop)
        procs[0] = await asyncio.to_thread(EngineProcess, env)
        await asyncio.sleep(3)
        assert {n: numbers.reads.get(n, 0) for n in LINES} == dict.fromkeys(LINES, 1)
        # what each process shows: every number read, once
        async with aiohttp.ClientSession() as session:
            for p in procs:
                async with session.get(
                    p.url + "/api/v1/health", headers={"Authorization": f"Bearer {ADMIN}"}
                ) as resp:
                    table = await resp.json()
                assert table["counts"] == {"good": 4, "medium": 0, "bad": 0, "unknown": 0}
                assert all(r["checked_at"] for r in table["numbers"])
    finally:
        for p in procs:
            await asyncio.to_thread(p.stop)
