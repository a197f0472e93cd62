"""Webhook acks first: how one process (role ``all``) shares its event loop between
answering webhooks and handling messages.

Every ready task of an asyncio process waits its turn behind all the others, so an ack is
as slow as the number of messages being handled at once. Two rules keep it fast when the
process is saturated, and cost nothing when it is not:

- at most ``limit`` messages are handled at once (load → flow → commit); the others wait
  for a turn, in the order they asked, so a partition read of hundreds of entries never
  floods the loop;
- while webhooks are being answered, a message about to start gives way until they are
  (at most ``give_way_s``, so the queues never starve under a stream of webhooks).

A process of role ``worker`` never answers webhooks: only the limit applies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

#: Longest a message gives way to webhooks being answered.
GIVE_WAY_S = 0.005


class Pacing:
    def __init__(self, limit: int, give_way_s: float = GIVE_WAY_S) -> None:
        self.limit = limit
        self.give_way_s = give_way_s
        self.acks = 0  # webhooks being answered
        self.handling = 0  # messages being handled
        self._slots = asyncio.Semaphore(limit)
        self._calm = asyncio.Event()
        self._calm.set()

    @contextlib.contextmanager
    def ack(self) -> Iterator[None]:
        """Around the answer to one webhook."""
        self.acks += 1
        self._calm.clear()
        try:
            yield
        finally:
            self.acks -= 1
            if not self.acks:
                self._calm.set()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Around the handling of one message: waits for a slot, then gives way to the
        webhooks being answered."""
        async with self._slots:
            if self.acks:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.give_way_s):
                        await self._calm.wait()
            self.handling += 1
            try:
                yield
            finally:
                self.handling -= 1
