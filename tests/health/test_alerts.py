"""Alerts: a change of class is POSTed to FLOW_ENGINE_ALERT_WEBHOOK_URL (a real receiver
on loopback), retried with backoff after a 500, and never holds up message handling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from flow_engine.devtools import webhooks
from flow_engine.web.state import HEALTH
from tests.health.conftest import LINES, N1, N2, ServerFactory, Stack, StackFactory
from tests.support.harness import APP_SECRET


@dataclass
class Receiver:
    """An alert webhook: answers ``statuses`` in turn (then 200), records every POST."""

    statuses: list[int] = field(default_factory=list)
    entered: int = 0
    hold: asyncio.Event = field(default_factory=asyncio.Event)
    got: list[tuple[float, dict[str, str], dict[str, Any], int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.hold.set()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.entered += 1
        await self.hold.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        self.got.append((time.monotonic(), dict(request.headers), body, status))
        return web.json_response({"ok": status == 200}, status=status)

    def delivered(self) -> list[dict[str, Any]]:
        return [body for _t, _h, body, status in self.got if status == 200]

    async def wait(self, count: int, within: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within
        while len(self.delivered()) < count:
            assert time.monotonic() < deadline, f"{len(self.delivered())} alerts: {self.got}"
            await asyncio.sleep(0.05)
        return self.delivered()


ReceiverFactory = Callable[..., Awaitable[tuple[Receiver, str]]]


@pytest.fixture
async def receiver_at(aiohttp_server: ServerFactory) -> ReceiverFactory:
    async def make(*statuses: int) -> tuple[Receiver, str]:
        receiver = Receiver(list(statuses))
        app = web.Application()
        app.router.add_post("/hooks/health", receiver.handle)
        server: TestServer = await aiohttp_server(app)
        return receiver, str(server.make_url("/hooks/health?token=s3cret"))

    return make


async def test_a_change_is_posted_and_retried_after_a_500(
    stack_of: StackFactory, receiver_at: ReceiverFactory
) -> None:
    receiver, url = await receiver_at(500)
    stack = await stack_of(alert_webhook_url=url)
    stack.set_number(N1, quality_rating="GREEN")
    await stack.refresh(N1)
    (first,) = await receiver.wait(1)
    assert [status for *_r, status in receiver.got] == [500, 200]
    (t500, h500, b500, _), (t200, h200, _b, _) = receiver.got
    assert b500 == first and h500["Idempotency-Key"] == h200["Idempotency-Key"] == first["id"]
    assert t200 - t500 >= 0.9  # the retry waited its backoff (1 s)
    assert first == {
        "type": "health_class_changed",
        "id": f"{N1}:1",
        "number": N1,
        "name": LINES[N1][1],
        "display_phone_number": LINES[N1][0],
        "from": "unknown",
        "to": "good",
        "quality_rating": "GREEN",
        "status": "CONNECTED",
        "messaging_limit": "TIER_2K",
        "cause": "refresh",
        "at": first["at"],
    }
    await stack.quality_update(N1, "FLAGGED", rating="RED")
    _first, second = await receiver.wait(2)
    assert (second["id"], second["from"], second["to"], second["cause"]) == (
        f"{N1}:2",
        "good",
        "bad",
        "webhook",
    )
    async with stack.session.get(stack.engine_url + "/metrics") as resp:
        metrics = await resp.text()
    assert 'flow_engine_health_alerts_total{result="failed"} 1.0' in metrics
    assert 'flow_engine_health_alerts_total{result="sent"} 2.0' in metrics
    assert "s3cret" not in metrics


async def test_an_alert_stuck_at_the_receiver_never_holds_up_messages(
    stack_of: StackFactory, receiver_at: ReceiverFactory
) -> None:
    receiver, url = await receiver_at()
    receiver.hold.clear()  # the receiver takes the POST and does not answer
    stack = await stack_of(alert_webhook_url=url)
    stack.set_number(N2, quality_rating="RED")
    await stack.refresh(N2)
    deadline = time.monotonic() + 10
    while receiver.entered == 0:  # the alert's POST is now waiting at the receiver
        assert time.monotonic() < deadline, "the alert was never posted"
        await asyncio.sleep(0.02)
    # a contact writes to the number meanwhile: the engine answers
    contact = "5511988887777"
    payload = webhooks.build_text_webhook(
        wa_id=contact,
        name="Ana",
        text="hola",
        phone_number_id=N2,
        display_phone_number=LINES[N2][0],
    )
    body, headers = webhooks.signed_request(payload, APP_SECRET)
    async with stack.session.post(
        stack.engine_url + "/webhooks/whatsapp", data=body, headers=headers
    ) as resp:
        assert resp.status == 200
    sent: list[Any] = []
    while not sent:
        assert time.monotonic() < deadline, "no reply while the alert was stuck"
        await asyncio.sleep(0.05)
        async with stack.session.get(
            stack.gateway_url + "/_fake/messages", params={"to": contact}
        ) as resp:
            sent = (await resp.json())["messages"]
    assert receiver.delivered() == []  # the alert is still waiting
    receiver.hold.set()
    (alert,) = await receiver.wait(1)
    assert (alert["number"], alert["to"]) == (N2, "bad")


async def test_without_a_url_no_alert_is_kept(stack: Stack) -> None:
    stack.set_number(N1, quality_rating="RED")
    await stack.refresh(N1)
    store = stack.app[HEALTH].service.store
    assert await store.pending("alert") == 0
    assert len(await store.changes(N1)) == 1
    deadline = time.monotonic() + 10
    while await store.pending("change") > 0:  # the listeners' job runs and is done
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
