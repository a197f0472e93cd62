"""The outbox in this process, with its sent marks and send claims."""

from __future__ import annotations

import json
import time
from collections import OrderedDict

from flow_engine.domain.facts import Facts
from flow_engine.storage.memory_backend import MemoryBackend
from flow_engine.storage.memory_rollups import state_of
from flow_engine.storage.outbox import Outbox, OutboxEntry, OutboxItem


class MemoryOutbox(Outbox):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def pending(self, partition: int) -> list[OutboxEntry]:
        box = self.b.outbox.get(partition, OrderedDict())
        retry = self.b.outbox_retry.get(partition, {})
        return [
            OutboxEntry(i, partition, OutboxItem(**json.loads(r)), *retry.get(i, (0.0, 0, 0.0)))
            for i, r in box.items()
        ]

    async def schedule_retry(self, entry: OutboxEntry) -> None:
        if entry.id in self.b.outbox.get(entry.partition, OrderedDict()):
            state = (entry.due, entry.attempts, entry.first_try)
            self.b.outbox_retry.setdefault(entry.partition, {})[entry.id] = state

    async def was_sent(self, partition: int, key: str) -> bool:
        return self.b.has_mark(f"sent:{key}")

    async def claim(self, entry: OutboxEntry, owner: str, ttl_ms: int) -> str:
        key = entry.item.key
        if self.b.has_mark(f"sent:{key}"):
            return "sent"
        now = time.monotonic()
        holder = self.b.claims.get(key)
        if holder is not None and holder[1] > now and holder[0] != owner:
            return "busy"
        self.b.claims[key] = (owner, now + ttl_ms / 1000)
        return "ok"

    async def complete(
        self, entry: OutboxEntry, gateway_id: str | None, facts: Facts | None = None
    ) -> None:
        self.b.mark(f"sent:{entry.item.key}", self.b.dedupe_ttl_s)
        self.b.claims.pop(entry.item.key, None)
        removed = self.b.outbox.get(entry.partition, OrderedDict()).pop(entry.id, None)
        self.b.outbox_retry.get(entry.partition, {}).pop(entry.id, None)
        conv = (entry.item.number, entry.item.contact)
        if removed is not None and conv in self.b.unsent:
            self.b.unsent[conv] -= 1
        if removed is not None:
            state_of(self.b).append(entry.partition, facts)

    async def depth(self) -> int:
        return sum(len(q) for q in self.b.outbox.values())
