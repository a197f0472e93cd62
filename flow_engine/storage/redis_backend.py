"""The Redis client shared by the Redis stores, with its coalescer and key builder.

``redis://`` (``rediss://``, ``unix://``) is one Redis server; ``redis+cluster://host:port``
(``rediss+cluster://``) is a Redis Cluster reached through any of its nodes, with redis-py's
asyncio cluster client. Every script and multi-key command of the stores touches keys of
one hash slot (``keys.py``), which is what a cluster needs; pipelines are never
transactions, so a cluster pipeline (split per node by redis-py) keeps their meaning.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from flow_engine.storage import records
from flow_engine.storage.conversations import Retention
from flow_engine.storage.keys import KeyBuilder
from flow_engine.storage.redis_coalescer import MAX_IN_FLIGHT, Coalescer, evalsha

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
#: URL schemes of a Redis Cluster, and the plain scheme redis-py's cluster client reads
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

Client = Redis | RedisCluster


def cluster_url(url: str) -> str | None:
    """The URL redis-py's cluster client takes when ``url`` names a cluster, else None."""
    scheme, sep, rest = url.partition("://")
    plain = CLUSTER_SCHEMES.get(scheme.lower()) if sep else None
    return None if plain is None else f"{plain}://{rest}"


def text(value: bytes | str) -> str:
    """A reply of Redis as text."""
    return value.decode() if isinstance(value, bytes) else value


class RedisBackend:
    """One client, shared by the Redis stores; each store registers the scripts it runs
    (``redis_scripts.py``)."""

    def __init__(
        self,
        client: Client,
        *,
        partitions: int,
        blocking: Client | None = None,
        batch: Coalescer | None = None,
        dedupe_ttl_s: int = 7 * 24 * 3600,
        retention: Retention | None = None,
        keys: KeyBuilder | None = None,
    ) -> None:
        self.r = client
        #: the client of blocking reads (its own pool and a longer socket timeout)
        self.blocking = blocking or client
        self.cluster = isinstance(client, RedisCluster)
        self.partitions = partitions
        self.dedupe_ttl_s = dedupe_ttl_s
        self.retention = retention or Retention()
        self.keys = keys or KeyBuilder()
        self.audit_kept = records.AUDIT_KEPT
        #: the commands of concurrent tasks, one pipeline per turn of the event loop
        self.batch = batch or Coalescer(client)

    @classmethod
    def from_url(
        cls, url: str, *, partitions: int, timeout_s: float = 5.0, **kwargs: Any
    ) -> RedisBackend:
        """Two clients whose pools wait for a free connection instead of failing: one for
        commands, one for the blocking reads of the queue (each owned partition keeps one
        connection there). Every command has a socket and connect timeout of
        ``timeout_s`` and is retried on a fresh connection (:data:`COMMAND_RETRIES`) when
        its connection fails; idle connections are health-checked. On a cluster
        (``redis+cluster://``), each node gets that many connections at most (redis-py's
        cluster client does not wait for one: it fails the command)."""
        plain = cluster_url(url)
        if plain is not None:

            def cluster(socket_timeout: float | None) -> RedisCluster:
                return RedisCluster.from_url(
                    plain,
                    max_connections=partitions + POOL_HEADROOM,
                    socket_timeout=socket_timeout,
                    socket_connect_timeout=timeout_s,
                    health_check_interval=HEALTH_CHECK_S,
                )

            return cls(
                cluster(timeout_s),
                partitions=partitions,
                blocking=cluster(timeout_s + MAX_BLOCK_MS / 1000),
                # the coalescer's pipelines, as on one server: one deadline each instead
                # of a socket timeout per reply read (a pipeline holds one connection per
                # node it goes to, far fewer than a node's pool)
                batch=Coalescer(cluster(None), deadline_s=timeout_s),
                **kwargs,
            )

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
        # the coalescer's pipelines: one deadline of ``timeout_s`` each instead of a socket
        # timeout per reply read, and never more connections than pipelines in flight
        pipelines = ConnectionPool.from_url(
            url,
            max_connections=MAX_IN_FLIGHT,
            socket_timeout=None,
            socket_connect_timeout=timeout_s,
            health_check_interval=HEALTH_CHECK_S,
            retry=Retry(EqualJitterBackoff(RETRY_CAP_S, RETRY_BASE_S), COMMAND_RETRIES),
            retry_on_error=[RedisConnectionError],
        )
        batch = Coalescer(
            Redis.from_pool(pipelines),
            deadline_s=timeout_s,
            # a max_connections in the URL wins over the one above: never wait for more
            max_in_flight=min(MAX_IN_FLIGHT, pipelines.max_connections),
        )
        return cls(commands, partitions=partitions, blocking=blocking, batch=batch, **kwargs)

    def script(self, source: str) -> AsyncScript:
        return self.r.register_script(source)

    async def run_pipelined(
        self, script: AsyncScript, calls: list[tuple[list[str], list[Any]]]
    ) -> list[Any]:
        """Run one script many times in one round trip, by its SHA (a plain pipeline of
        scripts would first ask SCRIPT EXISTS on every call). Calls refused for want of the
        script (Redis restarted or was flushed; a cluster node that never saw it) run again
        once it is loaded; the others ran once, and are not run again."""
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(2):
            pipe = self.r.pipeline(transaction=False)
            for i in todo:
                keys, args = calls[i]
                evalsha(pipe, script, keys, args)
            replies = await pipe.execute(raise_on_error=False)
            missing = []
            for i, reply in zip(todo, replies, strict=True):
                if isinstance(reply, NoScriptError) and attempt == 0:
                    missing.append(i)
                elif isinstance(reply, Exception):
                    raise reply
                else:
                    results[i] = reply
            if not missing:
                return results
            script.sha = await self.r.script_load(script.script)
            todo = missing
        raise NoScriptError("script could not be loaded")

    async def connect(self) -> None:
        """Learn a cluster's nodes and slots now. redis-py does it on the first command,
        but its pub/sub needs it done first, and concurrent first commands race in it
        (redis-py 8.1: one of 20 concurrent first commands fails with AttributeError);
        nothing to do on one server. The clients of the blocking reads and of the
        coalescer too: they route by their own slot tables (``redis_queue.xread``,
        ``Coalescer._run_cluster``)."""
        if isinstance(self.r, RedisCluster):
            await self.r.initialize()
        for other in (self.blocking, self.batch.r):
            if isinstance(other, RedisCluster) and other is not self.r:
                await other.initialize()

    async def ping(self) -> bool:
        """Every master of a cluster answers (one server: it answers)."""
        if isinstance(self.r, RedisCluster):
            return bool(await self.r.ping(target_nodes=RedisCluster.PRIMARIES))
        return bool(await self.r.ping())

    async def close(self) -> None:
        await self.r.aclose()
        if self.blocking is not self.r:
            await self.blocking.aclose()
        if self.batch.r is not self.r:
            await self.batch.r.aclose()
