"""The Redis client shared by the Redis stores, with its coalescer and key builder."""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from flow_engine.storage import records
from flow_engine.storage.keys import KeyBuilder
from flow_engine.storage.redis_coalescer import Coalescer

POOL_HEADROOM = 512
POOL_WAIT_S = 30.0
#: A connection idle this long is checked with a PING before its next command, so one
#: left broken by a restart of Redis is replaced before it fails a request.
HEALTH_CHECK_S = 10
#: A command that fails to connect, loses its connection or times out is retried this
#: many times on a fresh connection, after a short jittered backoff (50 ms, 100 ms, …).
COMMAND_RETRIES = 2
RETRY_BASE_S = 0.05
RETRY_CAP_S = 0.5
#: The longest block of a blocking queue read; the blocking client's socket timeout is
#: this plus the command timeout, so a block never looks like a dead server.
MAX_BLOCK_MS = 5000
#: What "the store cannot be reached now" looks like: retry later, the data is not at fault.
UNAVAILABLE: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)


def text(value: bytes | str) -> str:
    """A reply of Redis as text."""
    return value.decode() if isinstance(value, bytes) else value


class RedisBackend:
    """One client, shared by the Redis stores; each store registers the scripts it runs
    (``redis_scripts.py``)."""

    def __init__(
        self,
        client: Redis,
        *,
        partitions: int,
        blocking: Redis | None = None,
        dedupe_ttl_s: int = 7 * 24 * 3600,
        conversation_ttl_s: int = 0,
        keys: KeyBuilder | None = None,
    ) -> None:
        self.r = client
        #: the client of blocking reads (its own pool and a longer socket timeout)
        self.blocking = blocking or client
        self.partitions = partitions
        self.dedupe_ttl_s = dedupe_ttl_s
        self.conversation_ttl_s = conversation_ttl_s
        self.keys = keys or KeyBuilder()
        self.audit_kept = records.AUDIT_KEPT
        self.batch = Coalescer(client)

    @classmethod
    def from_url(
        cls, url: str, *, partitions: int, timeout_s: float = 5.0, **kwargs: Any
    ) -> RedisBackend:
        """Two clients whose pools wait for a free connection instead of failing: one for
        commands, one for the blocking reads of the queue (each owned partition keeps one
        connection there). Every command has a socket and connect timeout of
        ``timeout_s`` and is retried on a fresh connection (:data:`COMMAND_RETRIES`) when
        its connection fails; idle connections are health-checked."""

        def pool(max_connections: int, socket_timeout: float) -> BlockingConnectionPool:
            return BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=POOL_WAIT_S,
                socket_timeout=socket_timeout,
                socket_connect_timeout=timeout_s,
                health_check_interval=HEALTH_CHECK_S,
                retry=Retry(EqualJitterBackoff(RETRY_CAP_S, RETRY_BASE_S), COMMAND_RETRIES),
                retry_on_error=list(UNAVAILABLE),
            )

        commands = Redis.from_pool(pool(partitions + POOL_HEADROOM, timeout_s))
        blocking = Redis.from_pool(pool(2 * partitions + 2, timeout_s + MAX_BLOCK_MS / 1000))
        return cls(commands, partitions=partitions, blocking=blocking, **kwargs)

    def script(self, source: str) -> AsyncScript:
        return self.r.register_script(source)

    async def run_pipelined(
        self, script: AsyncScript, calls: list[tuple[list[str], list[Any]]]
    ) -> list[Any]:
        """Run one script many times in one round trip, by its SHA (a plain pipeline of
        scripts would first ask SCRIPT EXISTS on every call)."""
        for _ in range(2):
            pipe = self.r.pipeline(transaction=False)
            for keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            try:
                return list(await pipe.execute())
            except NoScriptError:  # Redis restarted or was flushed: load, then run again
                script.sha = await self.r.script_load(script.script)
        raise NoScriptError("script could not be loaded")

    async def ping(self) -> bool:
        return bool(await self.r.ping())

    async def close(self) -> None:
        await self.r.aclose()
        if self.blocking is not self.r:
            await self.blocking.aclose()
