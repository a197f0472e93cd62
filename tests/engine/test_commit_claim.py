"""Issue 15: the commit that appends a turn's replies also takes their send claims, so the
first attempt at each needs no claim of its own — one script fewer per message — unless
it starts too late for that claim (``COMMIT_CLAIM_FRESH_S``), when it claims again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from flow_engine.devtools.fake_gateway import create_fake_gateway_app
from flow_engine.domain.outbound import Text
from flow_engine.engine import outbox as outbox_module
from flow_engine.engine.flow import Turn
from flow_engine.engine.outbox import COMMIT_CLAIM_FRESH_S
from flow_engine.storage.base import Storage
from flow_engine.storage.outbox import OutboxEntry
from flow_engine.web.state import STORAGE
from tests.conftest import ServerFactory
from tests.support.flows import CountingEchoFlow
from tests.support.harness import APP_SECRET, TOKEN, Harness, text_of


class SlowFirstSend:
    """Holds the gateway's answer to the first send for ``delay_s`` (0: no delay)."""

    def __init__(self) -> None:
        self.delay_s = 0.0
        self.delayed: list[str] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        send = request.method == "POST" and request.path.endswith("/messages")
        if self.delay_s and send and not request.path.startswith("/_fake") and not self.delayed:
            self.delayed.append(request.path)
            await asyncio.sleep(self.delay_s)
        return await handler(request)


@pytest.fixture
def slow_first_send() -> SlowFirstSend:
    return SlowFirstSend()


@pytest.fixture
async def gateway_server(
    aiohttp_server: ServerFactory, slow_first_send: SlowFirstSend
) -> TestServer:
    """The fake gateway of the engine's stack (``stack_factory``), with a slow first send
    when a test asks for one."""
    app = create_fake_gateway_app(
        engine_url="http://127.0.0.1:9/unused", app_secret=APP_SECRET, token=TOKEN
    )
    app.middlewares.append(slow_first_send.middleware)
    return await aiohttp_server(app)


class ClaimCounter:
    """Counts the calls of ``storage.outbox.claim`` (and lets each through)."""

    def __init__(self, storage: Storage) -> None:
        self.calls: list[str] = []
        claim = storage.outbox.claim

        async def counted(entry: OutboxEntry, owner: str, ttl_ms: int) -> str:
            self.calls.append(entry.item.key)
            return await claim(entry, owner, ttl_ms)

        storage.outbox.claim = counted  # type: ignore[method-assign]


async def leftover_claims(storage: Storage) -> int:
    """Send claims still held (none once every reply is sent)."""
    backend = storage.backend
    if hasattr(backend, "claims"):  # the memory store
        return len(backend.claims)
    return len([key async for key in backend.r.scan_iter(match="*:claim:*")])


async def test_fresh_replies_go_out_on_the_claim_their_commit_took(
    stack_factory: Callable[..., Awaitable[Harness]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a loaded machine may start a send more than the default second after its commit:
    # that case (a claim taken again) is the next test's
    monkeypatch.setattr(outbox_module, "COMMIT_CLAIM_FRESH_S", 60.0)
    h = await stack_factory(CountingEchoFlow())
    counter = ClaimCounter(h.app[STORAGE])  # type: ignore[attr-defined]
    contacts = [f"54911000007{i:02d}" for i in range(6)]
    for round_ in range(2):
        await asyncio.gather(*(h.say(c, f"m{round_}") for c in contacts))
    for c in contacts:
        sent = await h.wait_sent(2, to=c)
        assert [text_of(s) for s in sent] == ["1:m0", "2:m1"]
    await h.settle()
    assert [len(await h.sent(c)) for c in contacts] == [2] * len(contacts)
    assert counter.calls == []
    assert await leftover_claims(h.app[STORAGE]) == 0  # type: ignore[attr-defined]


class TwoReplies:
    def __init__(self) -> None:
        self.inner = CountingEchoFlow()

    async def handle(self, turn: Turn) -> None:
        await self.inner.handle(turn)
        turn.say(Text(body="second"))


async def test_a_reply_sent_long_after_its_commit_claims_again(
    stack_factory: Callable[..., Awaitable[Harness]], slow_first_send: SlowFirstSend
) -> None:
    """The first reply's send takes longer than the commit's claim serves: the second
    reply claims before it is sent."""
    slow = slow_first_send.delay_s = COMMIT_CLAIM_FRESH_S + 0.3
    h = await stack_factory(TwoReplies(), mark_read=False)  # the first send is reply 0
    counter = ClaimCounter(h.app[STORAGE])  # type: ignore[attr-defined]
    contact = "5491100000777"
    await h.say(contact, "hola")
    sent = await h.wait_sent(2, to=contact, within=15 + slow)
    assert [text_of(s) for s in sent] == ["1:hola", "second"]
    assert slow_first_send.delayed  # the first send was the slow one
    assert len(counter.calls) == 1 and counter.calls[0].endswith(":1")
    await h.settle()
    assert len(await h.sent(contact)) == 2
    assert await leftover_claims(h.app[STORAGE]) == 0  # type: ignore[attr-defined]


class ReserveCounter:
    """Counts the rate reservations of ``storage.rates`` (and lets each through)."""

    def __init__(self, storage: Storage) -> None:
        self.calls = 0
        reserve = storage.rates.reserve

        async def counted(number: str, per_second: float) -> float:
            self.calls += 1
            return await reserve(number, per_second)

        storage.rates.reserve = counted  # type: ignore[method-assign]


async def test_each_reply_is_reserved_once_and_the_number_rate_holds(
    stack_factory: Callable[..., Awaitable[Harness]],
) -> None:
    """Without a claim of its own, a reply still takes its place under the number's send
    rate: one reservation each, and no more sends a second than the rate allows."""
    rate = 4.0
    h = await stack_factory(TwoReplies(), mark_read=False, send_rate_per_second=rate)
    counter = ReserveCounter(h.app[STORAGE])  # type: ignore[attr-defined]
    contacts = [f"54911000009{i:02d}" for i in range(5)]
    await asyncio.gather(*(h.say(c, "hola") for c in contacts))
    sent = await h.wait_sent(2 * len(contacts), within=30)
    for c in contacts:
        assert [text_of(s) for s in sent if s["to"] == c] == ["1:hola", "second"]
    await h.settle()
    assert len(await h.sent()) == 2 * len(contacts)
    assert counter.calls == 2 * len(contacts)
    # a burst of one second's worth, then `rate` a second: the last of 10 sends goes no
    # sooner than (10 - 4) / 4 s after the first
    times = sorted(s["timestamp"] for s in sent)
    assert times[-1] - times[0] >= (len(times) - rate) / rate - 0.1
