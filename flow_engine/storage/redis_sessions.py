"""Sessions and failure counters in Redis: keys with a TTL, so Redis forgets them."""

from __future__ import annotations

from flow_engine.storage import redis_scripts
from flow_engine.storage.redis_backend import RedisBackend, text
from flow_engine.storage.sessions import SessionStore


class RedisSessions(SessionStore):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys
        self.count_script = b.script(redis_scripts.COUNT_FAILURE)

    async def put(self, key: str, document: str, ttl_ms: int) -> None:
        await self.b.r.set(self.k.session(key), document, px=ttl_ms)

    async def get(self, key: str, ttl_ms: int | None = None) -> str | None:
        name = self.k.session(key)
        raw = await (self.b.r.get(name) if ttl_ms is None else self.b.r.getex(name, px=ttl_ms))
        return None if raw is None else text(raw)

    async def delete(self, key: str) -> None:
        await self.b.r.delete(self.k.session(key))

    async def count_failure(self, key: str, window_ms: int) -> int:
        count = await self.count_script(keys=[self.k.signin_failures(key)], args=[window_ms])
        return int(count)

    async def failures(self, key: str) -> int:
        return int(await self.b.r.get(self.k.signin_failures(key)) or 0)

    async def clear_failures(self, key: str) -> None:
        await self.b.r.delete(self.k.signin_failures(key))
