"""The inbound queue in Redis: one stream per partition, dedupe marks beside it."""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException

from flow_engine.domain import jsoncodec
from flow_engine.domain.inbound import InboundMessage
from flow_engine.storage import redis_scripts
from flow_engine.storage.queue import InboundQueue, QueueEntry
from flow_engine.storage.redis_backend import MAX_BLOCK_MS, Client, RedisBackend, text


async def xread(client: Client, stream: str, after: str, count: int, block_ms: int) -> Any:
    """``XREAD [BLOCK] COUNT … STREAMS stream after`` of one stream. On a cluster it is sent
    to the node of the stream's slot: left to itself, redis-py finds the keys of an XREAD
    (they follow ``STREAMS``) by asking a node ``COMMAND GETKEYS`` first, a round trip
    more per read. A redirection (``MOVED``) is followed by redis-py as for any command."""
    if isinstance(client, RedisCluster):
        try:
            node = client.get_node_from_key(stream)
        except RedisClusterException:  # no slot table yet: let redis-py route (and learn it)
            node = None
        if node is not None:
            block = ("BLOCK", block_ms) if block_ms > 0 else ()
            return await client.execute_command(
                "XREAD", "COUNT", count, *block, "STREAMS", stream, after, target_nodes=node
            )
    if block_ms > 0:
        return await client.xread({stream: after}, count=count, block=block_ms)
    return await client.xread({stream: after}, count=count)


class RedisQueue(InboundQueue):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys
        self.enqueue_script = b.script(redis_scripts.ENQUEUE)
        self.release_script = b.script(redis_scripts.RELEASE_DUE)
        self.dead_script = b.script(redis_scripts.DEAD_LETTER)

    async def enqueue(self, partition: int, message: InboundMessage) -> bool:
        return (await self.enqueue_many([(partition, message)]))[0]

    async def enqueue_many(self, items: list[tuple[int, InboundMessage]]) -> list[bool]:
        calls = [
            (
                [self.k.dedupe(p, m.message_id), self.k.inbound(p)],
                [self.b.dedupe_ttl_s, m.model_dump_json()],
            )
            for p, m in items
        ]
        if not calls:
            return []
        if len(calls) == 1:
            keys, args = calls[0]
            reply = await self.b.batch.script(self.enqueue_script, keys, cast(list[Any], args))
            return [bool(reply)]
        return [bool(r) for r in await self.b.run_pipelined(self.enqueue_script, calls)]

    async def read(
        self, partition: int, after: str, count: int, block_ms: int
    ) -> list[QueueEntry]:
        stream = self.k.inbound(partition)
        if block_ms > 0:
            reply = await xread(self.b.blocking, stream, after, count, min(block_ms, MAX_BLOCK_MS))
        else:
            reply = await xread(self.b.r, stream, after, count, 0)
        out: list[QueueEntry] = []
        for _stream, entries in reply or []:
            for eid, fields in entries:
                # written by enqueue (a validated message): read without validating again
                msg = InboundMessage.model_construct(**jsoncodec.loads(fields[b"m"]))
                out.append(QueueEntry(text(eid), partition, msg))
        return out

    async def release_due(self, partition: int, now: float, limit: int = 100) -> int:
        k = self.k
        moved = await self.release_script(
            keys=[k.schedule(partition), k.jobs(partition), k.inbound(partition)],
            args=[int(now * 1000), limit],
        )
        return int(moved)

    async def discard(self, entry: QueueEntry) -> None:
        await self.b.r.xdel(self.k.inbound(entry.partition), entry.id)

    async def dead_letter(self, entry: QueueEntry, error: str) -> None:
        p = entry.partition
        await self.dead_script(
            keys=[self.k.inbound(p), self.k.dead_letters(p)], args=[entry.id, error[:2000]]
        )

    async def depth(self) -> int:
        pipe = self.b.r.pipeline(transaction=False)
        for p in range(self.b.partitions):
            pipe.xlen(self.k.inbound(p))
        return sum(int(n) for n in await pipe.execute())
