"""The outbox in Redis: one stream per partition, sent marks and send claims beside it."""

from __future__ import annotations

import json
from typing import Any

from flow_engine.domain.facts import Facts
from flow_engine.storage import redis_scripts
from flow_engine.storage.outbox import Outbox, OutboxEntry, OutboxItem
from flow_engine.storage.redis_backend import RedisBackend, text


class RedisOutbox(Outbox):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys
        self.claim_script = b.script(redis_scripts.CLAIM)
        self.complete_script = b.script(redis_scripts.COMPLETE)

    async def pending(self, partition: int) -> list[OutboxEntry]:
        entries: Any = await self.b.r.xrange(self.k.outbox(partition), "-", "+")
        return [
            OutboxEntry(text(eid), partition, OutboxItem(**json.loads(fields[b"o"])))
            for eid, fields in entries
        ]

    async def was_sent(self, partition: int, key: str) -> bool:
        sent = self.k.sent(partition, key)
        return bool(await self.b.batch.call(lambda pipe: pipe.exists(sent)))

    async def claim(self, entry: OutboxEntry, owner: str, ttl_ms: int) -> str:
        p, key = entry.partition, entry.item.key
        result = await self.b.batch.script(
            self.claim_script, [self.k.sent(p, key), self.k.claim(p, key)], [owner, ttl_ms]
        )
        return text(result)

    async def complete(
        self, entry: OutboxEntry, gateway_id: str | None, facts: Facts | None = None
    ) -> None:
        p = entry.partition
        await self.b.batch.script(
            self.complete_script,
            [
                self.k.sent(p, entry.item.key),
                self.k.outbox(p),
                self.k.claim(p, entry.item.key),
                self.k.conversation(p, entry.item.number, entry.item.contact),
                self.k.facts(p),
            ],
            [self.b.dedupe_ttl_s, entry.id, gateway_id or "", facts.to_json() if facts else ""],
        )

    async def depth(self) -> int:
        pipe = self.b.r.pipeline(transaction=False)
        for p in range(self.b.partitions):
            pipe.xlen(self.k.outbox(p))
        return sum(int(n) for n in await pipe.execute())
