"""The inbound queue: per-partition durable queues of inbound messages and scheduled
events. :meth:`InboundQueue.enqueue` dedupes a gateway message id and appends the
message in one step, so a redelivery can never both pass the dedupe and be lost."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from flow_engine.domain.inbound import InboundMessage


def entry_order(entry_id: str) -> tuple[int, int]:
    """Sort key of a queue entry id (``<ms>-<seq>``, as Redis streams write them)."""
    if not entry_id:
        return (-1, -1)
    ms, _, seq = entry_id.partition("-")
    return (int(ms), int(seq or 0))


@dataclass(frozen=True)
class QueueEntry:
    """An inbound message waiting in its partition's queue."""

    id: str
    partition: int
    message: InboundMessage


@dataclass(frozen=True)
class ScheduledEvent:
    """A message to put in the conversation's queue at ``due`` (unix seconds), or, with
    ``due`` None, the cancellation of the job ``job_id``. Re-scheduling a job id moves it."""

    job_id: str
    due: float | None
    message: InboundMessage | None = None


class InboundQueue(ABC):
    """Per-partition durable queues of inbound messages."""

    @abstractmethod
    async def enqueue(self, partition: int, message: InboundMessage) -> bool:
        """Dedupe on ``message.message_id`` and append; False if it was seen before."""

    async def enqueue_many(self, items: list[tuple[int, InboundMessage]]) -> list[bool]:
        return [await self.enqueue(p, m) for p, m in items]

    @abstractmethod
    async def read(
        self, partition: int, after: str, count: int, block_ms: int
    ) -> list[QueueEntry]:
        """Entries after id ``after`` (``"0-0"`` for all), waiting up to ``block_ms``."""

    @abstractmethod
    async def discard(self, entry: QueueEntry) -> None:
        """Remove an entry without effects (already handled, or nothing to do)."""

    @abstractmethod
    async def release_due(self, partition: int, now: float, limit: int = 100) -> int:
        """Move scheduled events due by ``now`` into the partition's queue, each exactly
        once; returns how many moved."""

    @abstractmethod
    async def dead_letter(self, entry: QueueEntry, error: str) -> None:
        """Move an entry that cannot be processed to the partition's dead letters."""

    @abstractmethod
    async def depth(self) -> int:
        """Inbound messages not yet handled, over all partitions."""
