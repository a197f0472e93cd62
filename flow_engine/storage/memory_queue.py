"""The inbound queue in this process: atomic dedupe + enqueue, ordered per partition."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from flow_engine.domain.inbound import InboundMessage
from flow_engine.storage.memory_backend import MemoryBackend
from flow_engine.storage.queue import InboundQueue, QueueEntry, entry_order


class MemoryQueue(InboundQueue):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def enqueue(self, partition: int, message: InboundMessage) -> bool:
        if not self.b.mark(f"dedupe:{message.message_id}", self.b.dedupe_ttl_s):
            return False
        q = self.b.inbound.setdefault(partition, OrderedDict())
        q[self.b.next_id()] = message.model_dump_json()
        self.b.notify(partition)
        return True

    def _after(self, partition: int, after: str, count: int) -> list[QueueEntry]:
        q = self.b.inbound.get(partition, OrderedDict())
        floor = entry_order(after)
        out = []
        for eid, raw in q.items():
            if entry_order(eid) > floor:
                out.append(QueueEntry(eid, partition, InboundMessage.model_validate_json(raw)))
                if len(out) >= count:
                    break
        return out

    async def read(
        self, partition: int, after: str, count: int, block_ms: int
    ) -> list[QueueEntry]:
        entries = self._after(partition, after, count)
        if entries or block_ms <= 0:
            return entries
        event = asyncio.Event()
        waiting = self.b.waiters.setdefault(partition, set())
        waiting.add(event)
        try:
            await asyncio.wait_for(event.wait(), block_ms / 1000)
        except TimeoutError:
            return []
        finally:
            waiting.discard(event)
        return self._after(partition, after, count)

    async def release_due(self, partition: int, now: float, limit: int = 100) -> int:
        jobs = self.b.jobs.get(partition, {})
        due = sorted((d, job_id) for job_id, (d, _m) in jobs.items() if d <= now)[:limit]
        q = self.b.inbound.setdefault(partition, OrderedDict())
        for _d, job_id in due:
            _due, raw = jobs.pop(job_id)
            q[self.b.next_id()] = raw
        if due:
            self.b.notify(partition)
        return len(due)

    async def discard(self, entry: QueueEntry) -> None:
        self.b.inbound.get(entry.partition, OrderedDict()).pop(entry.id, None)

    async def dead_letter(self, entry: QueueEntry, error: str) -> None:
        raw = self.b.inbound.get(entry.partition, OrderedDict()).pop(entry.id, None)
        if raw is not None:
            self.b.dead.append((entry.id, raw, error))

    async def depth(self) -> int:
        return sum(len(q) for q in self.b.inbound.values())
