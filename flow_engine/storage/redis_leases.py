"""Partition leases and process heartbeats in Redis."""

from __future__ import annotations

import time

from flow_engine.storage import redis_scripts
from flow_engine.storage.leases import Heartbeat, LeaseStore
from flow_engine.storage.redis_backend import RedisBackend


class RedisLeases(LeaseStore):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys
        self.renew_script = b.script(redis_scripts.RENEW)
        self.release_script = b.script(redis_scripts.RELEASE)
        self.heartbeat_script = b.script(redis_scripts.HEARTBEAT)

    async def acquire(self, partition: int, owner: str, ttl_ms: int) -> bool:
        key = self.k.lease(partition)
        if await self.b.r.set(key, owner, nx=True, px=ttl_ms):
            return True
        return await self.renew(partition, owner, ttl_ms)

    async def renew(self, partition: int, owner: str, ttl_ms: int) -> bool:
        renewed = await self.renew_script(keys=[self.k.lease(partition)], args=[owner, ttl_ms])
        return bool(renewed)

    async def renew_many(self, partitions: list[int], owner: str, ttl_ms: int) -> list[bool]:
        calls = [([self.k.lease(p)], [owner, ttl_ms]) for p in partitions]
        if not calls:
            return []
        return [bool(r) for r in await self.b.run_pipelined(self.renew_script, calls)]

    async def release(self, partition: int, owner: str) -> None:
        await self.release_script(keys=[self.k.lease(partition)], args=[owner])

    async def heartbeat(self, owner: str, ttl_ms: int) -> Heartbeat:
        now = int(time.time() * 1000)
        alive, added = await self.heartbeat_script(
            keys=[self.k.processes()], args=[owner, now, ttl_ms]
        )
        return Heartbeat(int(alive), bool(int(added)))

    async def leave(self, owner: str) -> None:
        await self.b.r.zrem(self.k.processes(), owner)
