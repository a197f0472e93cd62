"""The outbox in Redis: one stream per partition, sent marks and send claims beside it."""

from __future__ import annotations

from flow_engine.domain import jsoncodec
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
        self.retry_script = b.script(redis_scripts.SCHEDULE_RETRY)

    async def pending(self, partition: int) -> list[OutboxEntry]:
        pipe = self.b.r.pipeline(transaction=False)
        pipe.xrange(self.k.outbox(partition), "-", "+")
        pipe.hgetall(self.k.outbox_retry(partition))
        entries, retries = await pipe.execute()
        retry = {text(k): jsoncodec.loads(v) for k, v in retries.items()}
        out = []
        for eid, fields in entries:
            entry_id = text(eid)
            due, attempts, first_try = retry.get(entry_id, (0.0, 0, 0.0))
            item = OutboxItem(**jsoncodec.loads(fields[b"o"]))
            out.append(OutboxEntry(entry_id, partition, item, due, attempts, first_try))
        return out

    async def schedule_retry(self, entry: OutboxEntry) -> None:
        p = entry.partition
        state = jsoncodec.dumps([entry.due, entry.attempts, entry.first_try])
        await self.b.batch.script(
            self.retry_script, [self.k.outbox(p), self.k.outbox_retry(p)], [entry.id, state]
        )

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
                self.k.outbox_retry(p),
            ],
            [self.b.dedupe_ttl_s, entry.id, gateway_id or "", facts.to_json() if facts else ""],
        )

    async def depth(self) -> int:
        pipe = self.b.r.pipeline(transaction=False)
        for p in range(self.b.partitions):
            pipe.xlen(self.k.outbox(p))
        return sum(int(n) for n in await pipe.execute())
