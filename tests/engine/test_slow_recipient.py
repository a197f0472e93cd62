"""Issue 10, item 2: a recipient whose replies are retried (the pair rate limit 131056 asks
for 1, 4, 16 s) holds up no other conversation of its partition, and its own replies stay
in order, each sent once.

The assertions are on the order of events recorded by the fake gateway, not on wall-clock
thresholds: every other contact's reply was accepted before the slow recipient's first
successful send (which the pair rate limit puts ~21 s after its first attempt)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from flow_engine.gateway.retry import RetryPolicy
from flow_engine.storage.keys import partition_of
from flow_engine.web.app import create_app
from tests.conftest import ServerFactory, engine_settings, serve_engine, write_demo_config
from tests.support.flows import CountingEchoFlow
from tests.support.harness import DEMO_NUMBER, Harness, text_of

PARTITIONS = 8
SLOW = "5491100000999"
#: Meta's schedule for 131056 within a budget that lets it run to the end
PATIENT = RetryPolicy(budget_s=60.0, jitter=0.0)


def same_partition(contact: str, count: int) -> list[str]:
    """``count`` other contacts whose conversations share ``contact``'s partition."""
    wanted = partition_of(DEMO_NUMBER, contact, PARTITIONS)
    found: list[str] = []
    i = 0
    while len(found) < count:
        candidate = f"5511930{i:06d}"
        if partition_of(DEMO_NUMBER, candidate, PARTITIONS) == wanted:
            found.append(candidate)
        i += 1
    return found


async def failures(h: Harness, to: str) -> list[dict[str, Any]]:
    async with h.session.get(h.gateway_url + "/_fake/failures") as r:
        data = await r.json()
    return [f for f in data["failures"] if f["to"] == to]


async def wait_for(probe: Callable[[], Awaitable[bool]], within: float) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await probe():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


@pytest.fixture(params=["redis", "memory"])
async def patient_engine(
    request: pytest.FixtureRequest,
    aiohttp_server: ServerFactory,
    gateway_server: TestServer,
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    gw_url = str(gateway_server.make_url("")).rstrip("/")
    settings = engine_settings(
        gw_url, write_demo_config(tmp_path), redis_url, send_rate_per_second=1000
    )
    app = create_app(settings, flow=CountingEchoFlow(), retry_policy=PATIENT)
    h = await serve_engine(aiohttp_server, app, gw_url)
    yield h
    await h.close()


@pytest.mark.slow
@pytest.mark.parametrize("patient_engine", ["redis"], indirect=True)
async def test_issue_10_pair_rate_limited_recipient_blocks_no_one(
    patient_engine: Harness,
) -> None:
    h = patient_engine
    others = same_partition(SLOW, 200)
    await h.fault(code=131056, http_status=400, to=SLOW, seconds=20)
    await h.say(SLOW, "a")
    await wait_for(lambda: _has_failed(h, SLOW), within=20)  # its first attempt failed
    await h.say(SLOW, "b")  # handled while "a" waits; its reply must not overtake
    await asyncio.gather(*(h.say(c, "hola") for c in others))

    others_sent = await sent_to_others(h, len(others), within=60)
    slow_sent = await h.wait_sent(2, SLOW, within=60)
    await h.settle(quiet=1.0)

    assert [text_of(r) for r in await h.sent(SLOW)] == ["1:a", "2:b"], "in order, once each"
    by_contact = {r["to"]: text_of(r) for r in others_sent}
    assert len(others_sent) == len(others) and all(by_contact[c] == "1:hola" for c in others)
    first_success = slow_sent[0]["timestamp"]
    assert max(r["timestamp"] for r in others_sent) < first_success, (
        "every other conversation of the partition was answered while the slow recipient "
        "was still waiting for its retries"
    )
    tried = await failures(h, SLOW)
    assert len(tried) == 3, "attempts at 0, 1, 5 s failed (Meta's 4^n schedule); 21 s passed"
    assert all(f["timestamp"] < first_success for f in tried)


async def _has_failed(h: Harness, to: str) -> bool:
    return bool(await failures(h, to))


async def sent_to_others(h: Harness, count: int, within: float) -> list[dict[str, Any]]:
    """Wait until ``count`` sends reached contacts other than the slow one."""
    found: list[dict[str, Any]] = []

    async def enough() -> bool:
        nonlocal found
        found = [r for r in await h.sent() if r["to"] != SLOW]
        return len(found) >= count

    await wait_for(enough, within)
    return found


async def test_a_retried_reply_keeps_its_conversation_in_order(patient_engine: Harness) -> None:
    """Shorter, on both backends: a gateway that asks to come back in 2 s (Retry-After) for
    one recipient; the other contact is answered first, the recipient's replies in order."""
    h = patient_engine
    other = same_partition(SLOW, 1)[0]
    await h.fault(code=130429, http_status=429, to=SLOW, seconds=1.5, retry_after=2)
    await h.say(SLOW, "a")
    await wait_for(lambda: _has_failed(h, SLOW), within=10)
    await h.say(SLOW, "b")
    await h.say(other, "hola")
    await h.wait_sent(2, SLOW, within=20)
    sent = await h.settle(quiet=0.5)
    assert [(r["to"], text_of(r)) for r in sent] == [
        (other, "1:hola"),
        (SLOW, "1:a"),
        (SLOW, "2:b"),
    ]
