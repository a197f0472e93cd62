"""One pipeline for the commands concurrent tasks issue in one turn of the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    RedisClusterException,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: Pipelines in flight at once at most; the commands issued meanwhile wait for the next one
#: (and travel together: a slow store gets fewer, bigger pipelines, not more connections).
MAX_IN_FLIGHT = 64
#: Replies of a cluster node that mean "not run here" (the slot moved or is moving, the
#: cluster is reconfiguring): redis-py's cluster pipeline runs those commands again, and
#: follows the redirections (learning the new slot table).
REDIRECTED = (MovedError, AskError, TryAgainError, ClusterDownError)
#: Commands of one key, its first argument, that a cluster pipeline here sends straight to
#: the key's node (the scripts: their first key; every script's keys share one slot).
ONE_KEY = frozenset({"GET", "EXISTS", "XRANGE", "XTRIM"})


def cluster_key(args: tuple[Any, ...]) -> Any | None:
    """The key that routes command ``args`` on a cluster, or None (redis-py routes it)."""
    name = args[0]
    if name == "EVALSHA":
        return args[3] if len(args) > 3 and int(args[2]) > 0 else None
    if name in ONE_KEY and len(args) > 1 and (name != "EXISTS" or len(args) == 2):
        return args[1]
    return None


def evalsha(pipe: Any, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
    """Queue one run of ``script`` by its SHA on ``pipe``. A cluster pipeline of redis-py
    blocks its ``evalsha`` method (it cannot load a script missing on some node); the
    command itself is routed by its keys like any other, and the callers here load the
    script and run again the calls refused with NoScriptError."""
    return pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)


class Coalescer:
    """Commands that concurrent tasks issue in one turn of the event loop go to Redis as one
    pipeline: one round trip and one connection for all, each caller its own reply or
    error. The runtime handles the conversations of a partition concurrently, so their
    loads, commits, claims and completions travel together. Only non-blocking commands go
    through it (a blocking read would hold everyone up); a pipeline is not a transaction,
    so every command keeps exactly the meaning it has alone.

    ``deadline_s``: how long one pipeline may take in all, for a client whose connections
    have no socket timeout of their own (redis-py's socket timeout wraps every reply it
    reads in a timer of its own: one per command of a pipeline). A pipeline past it fails
    each of its callers with redis-py's TimeoutError, and its connection is dropped.

    On one Redis server, the pipeline's commands are recorded by a redis-py pipeline but
    written and read here, on a connection of the client's pool (:meth:`_run_direct`):
    packed by hiredis (in C, not redis-py's Python packer) and without the layers a
    pipeline's ``execute`` adds per call (its retry wrapper, a task to release its
    connection, its telemetry hooks). On a cluster, likewise, the commands are recorded,
    split by the node of their key's slot, and each node's share written and read here on
    one of its connections (:meth:`_run_cluster`); what a node does not run (a moved
    slot, a node that failed over) goes through redis-py's cluster pipeline, which follows
    the redirections."""

    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        deadline_s: float | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.r = client
        #: one server: its pipelines are written and read here (None: a cluster)
        self.server = client if isinstance(client, Redis) else None
        #: a cluster: its pipelines are split per node here, and recorded by a pipeline
        #: of a client that never connects (redis-py's cluster pipeline keeps its
        #: commands to itself)
        self.cluster = client if isinstance(client, RedisCluster) else None
        self._recorder = Redis() if self.cluster is not None else None
        self.deadline_s = deadline_s
        self.max_in_flight = max_in_flight
        self._pending: list[tuple[Callable[[Any], Any], AsyncScript | None, Any]] = []
        self._flushing: set[asyncio.Task[None]] = set()
        self._scheduled = False  # a _start is due at the next turn of the loop

    def call(self, add: Callable[[Any], Any], script: AsyncScript | None = None) -> Any:
        """Queue ``add(pipeline)`` (one command) for the next flush; returns the future of
        its reply."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._scheduled and len(self._flushing) < self.max_in_flight:
            self._scheduled = True
            loop.call_soon(self._start)
        self._pending.append((add, script, future))
        return future

    def script(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        return self.call(lambda pipe: evalsha(pipe, script, keys, args), script)

    def _start(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._flush(batch))
        self._flushing.add(task)
        task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[None]) -> None:
        self._flushing.discard(task)
        if self._pending and not self._scheduled:  # commands held back by the bound
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start)

    async def _bounded(self, aw: Awaitable[Any]) -> Any:
        """``aw`` within the deadline, if there is one."""
        if self.deadline_s is None:
            return await aw
        try:
            async with asyncio.timeout(self.deadline_s):
                return await aw
        except TimeoutError as exc:  # redis-py dropped the connection it was reading
            raise RedisTimeoutError(
                f"the store did not answer within {self.deadline_s:g} s"
            ) from exc

    async def _run_direct(self, server: Redis, pipe: Any) -> list[Any]:
        """The commands recorded on ``pipe`` in one write, their replies (an error reply as
        its exception) in order. A connection that fails before the first reply (one the
        server closed meanwhile: a restart, a killed client) is dropped and the whole
        pipeline tried once more on a fresh one, as redis-py's own retry does; the
        engine's scripts are safe to run again (dedupe marks, version checks). Once a
        reply was read, a failure reaches the callers."""
        stack = pipe.command_stack
        packed = b"".join(hiredis.pack_command(args) for args, _options in stack)
        pool = server.connection_pool
        for attempt in range(2):
            conn = await pool.get_connection()  # type: ignore[no-untyped-call]
            replies: list[Any] = []
            try:
                await conn.send_packed_command(packed)
                for args, options in stack:
                    try:
                        replies.append(await pipe.parse_response(conn, args[0], **options))
                    except ResponseError as error:
                        replies.append(error)
                return replies
            except BaseException as exc:
                await conn.disconnect(nowait=True)
                if replies or attempt or not isinstance(exc, RedisConnectionError):
                    raise
            finally:
                await pool.release(conn)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run_cluster(self, cluster: RedisCluster, pipe: Any) -> list[Any]:
        """The commands recorded on ``pipe``, one write per node of their slots (the nodes
        at once), their replies in order, an error reply as its exception. The commands
        a node redirected or could not take before its first reply (a node restarted or
        failed over: safe to run again, as :meth:`_run_direct` says) and those routed by
        no key here go through redis-py's cluster pipeline. Once a node's reply was read,
        a failure of its connection reaches the callers of its unread commands."""
        stack = pipe.command_stack
        results: list[Any] = [None] * len(stack)
        nodes: dict[str, tuple[Any, list[int]]] = {}
        redo: list[int] = []
        for i, (args, _options) in enumerate(stack):
            key = cluster_key(args)
            node = None
            if key is not None:
                try:
                    node = cluster.get_node_from_key(key)
                except RedisClusterException:  # no slot table yet: redis-py learns it
                    node = None
            if node is None:
                redo.append(i)
            else:
                nodes.setdefault(node.name, (node, []))[1].append(i)
        runs = [self._run_node(node, idx, stack, results, redo) for node, idx in nodes.values()]
        if len(runs) == 1:
            await runs[0]
        elif runs:
            await asyncio.gather(*runs)
        if redo:
            redo.sort()
            again = cluster.pipeline(transaction=False)
            for i in redo:
                args, options = stack[i]
                again.execute_command(*args, **options)
            for i, result in zip(redo, await again.execute(raise_on_error=False), strict=True):
                results[i] = result
        return results

    @staticmethod
    async def _run_node(
        node: Any, indices: list[int], stack: list[Any], results: list[Any], redo: list[int]
    ) -> None:
        """The commands ``indices`` of ``stack`` on cluster ``node``: see _run_cluster."""
        packed = b"".join(hiredis.pack_command(stack[i][0]) for i in indices)
        try:
            conn = node.acquire_connection()
        except RedisConnectionError:  # all its connections busy: redis-py decides
            redo.extend(indices)
            return
        read = 0
        try:
            await node.disconnect_if_needed(conn)
            await conn.send_packed_command(packed)
            for i in indices:
                args, options = stack[i]
                try:
                    results[i] = await node.parse_response(conn, args[0], **options)
                except REDIRECTED:
                    redo.append(i)
                except ResponseError as error:
                    results[i] = error
                read += 1
        except BaseException as exc:
            await conn.disconnect(nowait=True)
            if isinstance(exc, RedisConnectionError) and not read:
                redo.extend(indices)
            elif isinstance(exc, Exception):
                for i in indices[read:]:
                    results[i] = exc
            else:
                raise
        finally:
            node.release(conn)

    async def _flush(
        self, batch: list[tuple[Callable[[Any], Any], AsyncScript | None, Any]]
    ) -> None:
        todo = batch
        for attempt in range(2):
            try:
                recorder = self._recorder if self._recorder is not None else self.r
                pipe = recorder.pipeline(transaction=False)
                for add, _script, _future in todo:
                    add(pipe)
                if self.server is not None:
                    run = self._run_direct(self.server, pipe)
                elif self.cluster is not None:
                    run = self._run_cluster(self.cluster, pipe)
                else:  # pragma: no cover - the client is one of the two
                    run = pipe.execute(raise_on_error=False)
                results = await self._bounded(run)
            except BaseException as exc:
                for _add, _script, future in todo:
                    if not future.done():
                        if isinstance(exc, asyncio.CancelledError):
                            future.cancel()
                        else:
                            future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                return
            retry = []
            for item, result in zip(todo, results, strict=True):
                _add, script, future = item
                if isinstance(result, NoScriptError) and script is not None and attempt == 0:
                    retry.append(item)  # did not run: safe to run again once loaded
                elif future.done():
                    continue  # the caller gave up waiting
                elif isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            if not retry:
                return
            for script in {id(s): s for _a, s, _f in retry if s is not None}.values():
                script.sha = await self._bounded(self.r.script_load(script.script))
            todo = retry
