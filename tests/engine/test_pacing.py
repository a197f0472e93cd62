"""Role ``all``: webhook acks go first, and a bounded number of messages is handled at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from flow_engine.domain.outbound import Text
from flow_engine.engine.flow import Turn
from flow_engine.engine.pacing import Pacing
from flow_engine.web.state import PACING
from tests.support.harness import Harness


async def test_no_more_turns_at_once_than_the_limit() -> None:
    pacing = Pacing(limit=3)
    inside, most = 0, 0

    async def one() -> None:
        nonlocal inside, most
        async with pacing.turn():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(one() for _ in range(20)))
    assert most == 3


async def test_a_turn_waits_for_the_acks_being_answered() -> None:
    pacing = Pacing(limit=8, give_way_s=30.0)
    began = asyncio.Event()

    async def turn() -> None:
        async with pacing.turn():
            began.set()

    with pacing.ack():
        task = asyncio.create_task(turn())
        await asyncio.sleep(0.1)
        assert not began.is_set()  # the webhook being answered goes first
    await asyncio.wait_for(began.wait(), 5)
    await task


async def test_a_stream_of_acks_never_starves_the_turns() -> None:
    pacing = Pacing(limit=8, give_way_s=0.05)
    with pacing.ack():  # an ack that never ends
        async with asyncio.timeout(5):
            async with pacing.turn():
                pass


class ConcurrencyFlow:
    """Replies once, and remembers how many messages were in the flow at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0

    async def handle(self, turn: Turn) -> None:
        self.inside += 1
        self.most = max(self.most, self.inside)
        await asyncio.sleep(0.02)
        self.inside -= 1
        turn.say(Text(body="ok"))


async def test_the_runtime_handles_at_most_worker_concurrency_messages_at_once(
    stack_factory: Callable[..., Awaitable[Harness]],
) -> None:
    flow = ConcurrencyFlow()
    h = await stack_factory(flow, worker_concurrency=3)
    assert h.app[PACING].limit == 3  # type: ignore[attr-defined]
    contacts = [f"54911000{i:05d}" for i in range(30)]
    await asyncio.gather(*(h.say(c, "hola") for c in contacts))
    await h.wait_sent(30, within=30)
    assert len(await h.settle()) == 30
    assert flow.most == 3
