"""Issue 10, item 3: the store dies right after the gateway accepted a send, before the
sent mark is written. The mark is written again and again for as long as the worker holds
its partition, so an outage of seconds does not send the reply a second time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from flow_engine.devtools.fake_gateway import create_fake_gateway_app
from flow_engine.devtools.redis_server import RedisServer
from flow_engine.web.app import CLAIM_MARGIN_MS, create_app
from tests.conftest import (
    FAST_RETRY,
    ServerFactory,
    engine_settings,
    serve_engine,
    write_demo_config,
)
from tests.support.flows import CountingEchoFlow
from tests.support.harness import APP_SECRET, TOKEN, Harness, text_of

pytestmark = pytest.mark.slow

CONTACT = "5491100000321"
SEND_TIMEOUT_S = 2.0
#: how long after a send attempt its claim keeps other workers from sending it again
CLAIM_S = SEND_TIMEOUT_S + CLAIM_MARGIN_MS / 1000
OUTAGE_S = 3.0


class StoreBreaker:
    """Breaks the store the moment the gateway records the first send to ``CONTACT``:
    before the gateway's answer reaches the engine, so before any sent mark."""

    def __init__(self, server: RedisServer, how: str) -> None:
        self.server = server
        self.how = how
        self.broken = asyncio.Event()

    def on_send(self, record: dict[str, Any]) -> None:
        if record["to"] == CONTACT and not self.broken.is_set():
            self.server.kill() if self.how == "kill" else self.server.freeze()
            self.broken.set()

    def repair(self) -> None:
        self.server.start() if self.how == "kill" else self.server.thaw()


@pytest.fixture(params=["kill", "freeze"])
async def broken_store(
    request: pytest.FixtureRequest,
    redis_factory: Callable[..., RedisServer],
    aiohttp_server: ServerFactory,
    tmp_path: Path,
) -> AsyncIterator[tuple[Harness, StoreBreaker]]:
    server = redis_factory(persistent=True)
    breaker = StoreBreaker(server, request.param)
    gateway: TestServer = await aiohttp_server(
        create_fake_gateway_app(
            engine_url="http://127.0.0.1:9/unused",
            app_secret=APP_SECRET,
            token=TOKEN,
            on_send=breaker.on_send,
        )
    )
    gw_url = str(gateway.make_url("")).rstrip("/")
    settings = engine_settings(
        gw_url,
        write_demo_config(tmp_path),
        server.url,
        whatsapp_timeout_s=SEND_TIMEOUT_S,
        redis_timeout_s=0.5,
        store_timeout_s=5.0,  # the webhooks here come before and after the outage
    )
    app = create_app(settings, flow=CountingEchoFlow(), retry_policy=FAST_RETRY)
    h = await serve_engine(aiohttp_server, app, gw_url)
    yield h, breaker
    await h.close()


async def test_issue_10_store_lost_between_send_and_sent_mark_sends_once(
    broken_store: tuple[Harness, StoreBreaker],
) -> None:
    h, breaker = broken_store
    await h.say(CONTACT, "hola")
    await asyncio.wait_for(breaker.broken.wait(), 20)
    await asyncio.sleep(OUTAGE_S)  # an outage of seconds, longer than the partition lease
    await asyncio.to_thread(breaker.repair)
    # past the send claim: a worker that had given up on the sent mark would send again now
    await asyncio.sleep(CLAIM_S + 1.0 - OUTAGE_S)
    assert [text_of(r) for r in await h.sent(CONTACT)] == ["1:hola"]
    await h.say(CONTACT, "again")
    await h.wait_sent(2, CONTACT, within=20)
    assert [text_of(r) for r in await h.settle(CONTACT, quiet=1.0)] == ["1:hola", "2:again"]
