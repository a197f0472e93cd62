"""Flows for runtime tests: replies that show order, loss and duplication."""

from __future__ import annotations

import asyncio

from flow_engine.domain.outbound import Text
from flow_engine.engine.flow import Turn


class CountingEchoFlow:
    """Replies ``<n>:<text>``, n counting this contact's messages from the saved state.

    Two messages handled at once would read the same n; a lost one leaves a gap.
    A text starting with ``slow`` sleeps first, so a test can kill a process mid-message.
    """

    def __init__(self, slow_s: float = 3.0) -> None:
        self.slow_s = slow_s

    async def handle(self, turn: Turn) -> None:
        if turn.message.text.startswith("slow"):
            await asyncio.sleep(self.slow_s)
        n = int(turn.conversation.data.get("n", 0)) + 1
        turn.conversation.data["n"] = n
        turn.say(Text(body=f"{n}:{turn.message.text}"))
