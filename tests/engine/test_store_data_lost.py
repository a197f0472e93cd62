"""Issue 10, item 1: the store loses its data (a Redis restarted without persistence) or a
number's configuration disappears from it. The engine notices, seeds the configurations
again from FLOW_ENGINE_CONFIG_DIR where it has one, is not ready meanwhile, and never drops
a message of a number it served: queued messages wait, new webhooks get a retryable 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis
from structlog.testing import capture_logs

from flow_engine.devtools import webhooks
from flow_engine.devtools.redis_server import RedisServer
from flow_engine.domain.inbound import InboundMessage
from flow_engine.storage.base import Storage
from flow_engine.storage.keys import KeyBuilder, partition_of
from flow_engine.web.app import create_app
from flow_engine.web.state import STORAGE
from tests.conftest import (
    FAST_RETRY,
    PARTITIONS,
    ServerFactory,
    engine_settings,
    serve_engine,
    write_demo_config,
)
from tests.engine.test_delivery import metric
from tests.support.flows import CountingEchoFlow
from tests.support.harness import DEMO_DISPLAY, DEMO_NUMBER, Harness, text_of

CONTACT = "5491100000777"
DEMO_CONFIG = {"phone_number_id": DEMO_NUMBER, "display_phone_number": DEMO_DISPLAY, "name": "D"}


async def post(h: Harness, contact: str, text: str, message_id: str) -> tuple[int, Any]:
    payload = webhooks.build_text_webhook(
        wa_id=contact, name="Ana", text=text, message_id=message_id
    )
    body, headers = webhooks.signed_request(payload, h.secret)
    async with h.session.post(
        h.engine_url + "/webhooks/whatsapp", data=body, headers=headers
    ) as r:
        return r.status, await r.json()


async def deliver(h: Harness, contact: str, text: str, *, tries: int = 200) -> list[int]:
    """Post one message as the gateway does: again, with the same id, after each 5xx."""
    mid = webhooks.new_message_id()
    statuses = []
    for _ in range(tries):
        status, _body = await post(h, contact, text, mid)
        statuses.append(status)
        if status == 200:
            return statuses
        await asyncio.sleep(0.1)
    raise AssertionError(f"never taken: {statuses[-5:]}")


async def readiness(h: Harness) -> tuple[int, Any]:
    async with h.session.get(h.engine_url + "/readyz") as r:
        return r.status, await r.json()


async def wait_ready(h: Harness, want: int, within: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        status, body = await readiness(h)
        if status == want:
            return body
        assert asyncio.get_running_loop().time() < deadline, (status, body)
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_issue_10_redis_restarted_empty_loses_no_message_of_a_configured_number(
    redis_factory: Callable[..., RedisServer],
    aiohttp_server: ServerFactory,
    gateway_server: TestServer,
    tmp_path: Path,
) -> None:
    server = redis_factory(persistent=False)
    gw_url = str(gateway_server.make_url("")).rstrip("/")
    settings = engine_settings(
        gw_url, write_demo_config(tmp_path), server.url, store_timeout_s=1.0, redis_timeout_s=0.5
    )
    h = await serve_engine(
        aiohttp_server,
        create_app(settings, flow=CountingEchoFlow(), retry_policy=FAST_RETRY),
        gw_url,
    )
    try:
        await h.say(CONTACT, "before")
        await h.wait_sent(1, CONTACT)
        contacts = [f"54911007{i:05d}" for i in range(20)]
        with capture_logs() as logs:
            await asyncio.to_thread(server.kill)
            await asyncio.to_thread(server.start)  # empty: no configuration, nothing at all
            statuses = await asyncio.gather(*(deliver(h, c, "after") for c in contacts))
            await h.wait_sent(21, within=30)
            sent = await h.settle(quiet=1.0)
        assert {s for attempts in statuses for s in attempts} <= {200, 503}
        by_contact: dict[str, list[str]] = {}
        for r in sent:
            by_contact.setdefault(r["to"], []).append(text_of(r))
        assert all(by_contact.get(c) == ["1:after"] for c in contacts), by_contact
        assert await metric(h, 'flow_engine_processed_total{result="unknown_number"}') == 0
        await wait_ready(h, 200)
        assert [e for e in logs if e["event"] == "configurations_missing"]
        assert await h.app[STORAGE].configs.numbers() == [DEMO_NUMBER]  # type: ignore[attr-defined]
    finally:
        await h.close()


async def lose_configuration(storage: Storage, redis_url: str, number: str) -> None:
    """What a store that lost its data does to a number: no configuration, no versions."""
    if not redis_url:
        backend = storage.backend
        backend.configs.pop(number)
        backend.config_versions.pop(number)
        return
    keys = KeyBuilder()
    r = Redis.from_url(redis_url)
    try:
        await r.delete(keys.config(number), keys.config_versions(number))
        await r.srem(keys.numbers(), number)
    finally:
        await r.aclose()


@pytest.fixture(params=["memory", "redis"])
async def api_configured(
    request: pytest.FixtureRequest, aiohttp_server: ServerFactory, gateway_server: TestServer
) -> AsyncIterator[tuple[Harness, str]]:
    """An engine without configuration files: its number was configured in the store (as
    the admin API does)."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    gw_url = str(gateway_server.make_url("")).rstrip("/")
    settings = engine_settings(gw_url, None, redis_url)  # type: ignore[arg-type]
    app = create_app(settings, flow=CountingEchoFlow(), retry_policy=FAST_RETRY)
    h = await serve_engine(aiohttp_server, app, gw_url)
    await app[STORAGE].configs.put(DEMO_NUMBER, DEMO_CONFIG)
    yield h, redis_url
    await h.close()


async def test_issue_10_a_lost_configuration_keeps_its_messages_until_it_is_back(
    api_configured: tuple[Harness, str],
) -> None:
    h, redis_url = api_configured
    storage: Storage = h.app[STORAGE]  # type: ignore[attr-defined]
    await h.say(CONTACT, "a")
    await h.wait_sent(1, CONTACT)
    await lose_configuration(storage, redis_url, DEMO_NUMBER)
    body = await wait_ready(h, 503)
    assert body["configurations_missing"] == [DEMO_NUMBER]
    # a message in the queue once the loss is noticed: it waits, in order (before, the
    # process may still answer it with the configuration it holds — nothing is lost either)
    queued = InboundMessage(
        message_id=webhooks.new_message_id(),
        number=DEMO_NUMBER,
        contact=CONTACT,
        type="text",
        text="b",
    )
    assert await storage.queue.enqueue(partition_of(DEMO_NUMBER, CONTACT, PARTITIONS), queued)
    mid = webhooks.new_message_id()
    status, refused = await post(h, CONTACT, "c", mid)  # a new one: the gateway retries
    assert status == 503
    assert refused["error"]["code"] == "configuration_unavailable"
    assert refused["error"]["details"] == {"numbers": [DEMO_NUMBER]}
    await asyncio.sleep(1.5)  # a while without its configuration: nothing is dropped
    assert [text_of(r) for r in await h.sent(CONTACT)] == ["1:a"]

    await storage.configs.put(DEMO_NUMBER, DEMO_CONFIG)  # restored (the admin API)
    await wait_ready(h, 200)
    assert (await post(h, CONTACT, "c", mid))[0] == 200  # the gateway's retry
    await h.wait_sent(3, CONTACT, within=15)
    assert [text_of(r) for r in await h.settle(CONTACT)] == ["1:a", "2:b", "3:c"]
    assert await metric(h, 'flow_engine_processed_total{result="unknown_number"}') == 0


async def test_a_number_never_configured_is_still_dropped_and_counted(
    api_configured: tuple[Harness, str],
) -> None:
    h, _redis_url = api_configured
    await h.say(CONTACT, "hola", number="100000000000999")
    await h.say(CONTACT, "a")  # after the other one in the partition's order
    await h.wait_sent(1, CONTACT)
    assert await metric(h, 'flow_engine_processed_total{result="unknown_number"}') == 1
    assert (await readiness(h))[0] == 200
