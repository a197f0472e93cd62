"""The Redis backend: every state shared by any number of engine processes.

The only module that imports ``redis``. Atomic steps are Lua scripts over keys
of one hash slot (see ``keys.py``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from flow_engine.domain.conversation import Conversation
from flow_engine.domain.inbound import AccountEvent, InboundMessage, StatusUpdate
from flow_engine.errors import VersionConflict
from flow_engine.storage import base, records, redis_scripts
from flow_engine.storage.base import (
    AuditEntry,
    CommitResult,
    ConfigChange,
    ConfigVersion,
    OutboxEntry,
    OutboxItem,
    QueueEntry,
    ScheduledEvent,
    StaleVersions,
    Storage,
)
from flow_engine.storage.keys import KeyBuilder
from flow_engine.storage.redis_tickets import RedisTickets

EVENTS_KEPT = 10_000
POOL_HEADROOM = 512
POOL_WAIT_S = 30.0


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _schedule_args(schedule: list[ScheduledEvent]) -> list[str]:
    args: list[str] = []
    for job in schedule:
        due = "" if job.due is None else str(int(job.due * 1000))
        message = "" if job.message is None else job.message.model_dump_json()
        args += [job.job_id, due, message]
    return args


class Coalescer:
    """Commands that concurrent tasks issue in one turn of the event loop go to Redis as one
    pipeline: one round trip and one connection for all, each caller its own reply or
    error. The runtime handles the conversations of a partition concurrently, so their
    loads, commits, claims and completions travel together. Only non-blocking commands go
    through it (a blocking read would hold everyone up); a pipeline is not a transaction,
    so every command keeps exactly the meaning it has alone."""

    def __init__(self, client: Redis) -> None:
        self.r = client
        self._pending: list[tuple[Callable[[Any], Any], AsyncScript | None, Any]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    def call(self, add: Callable[[Any], Any], script: AsyncScript | None = None) -> Any:
        """Queue ``add(pipeline)`` (one command) for the next flush; returns the future of
        its reply."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._pending:
            loop.call_soon(self._start)
        self._pending.append((add, script, future))
        return future

    def script(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        return self.call(lambda pipe: pipe.evalsha(script.sha, len(keys), *keys, *args), script)

    def _start(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._flush(batch))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(
        self, batch: list[tuple[Callable[[Any], Any], AsyncScript | None, Any]]
    ) -> None:
        todo = batch
        for attempt in range(2):
            try:
                pipe = self.r.pipeline(transaction=False)
                for add, _script, _future in todo:
                    add(pipe)
                results = await pipe.execute(raise_on_error=False)
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
                script.sha = await self.r.script_load(script.script)
            todo = retry


class RedisBackend:
    """One client and the registered scripts, shared by the Redis stores."""

    def __init__(
        self,
        client: Redis,
        *,
        partitions: int,
        dedupe_ttl_s: int = 7 * 24 * 3600,
        conversation_ttl_s: int = 0,
        keys: KeyBuilder | None = None,
    ) -> None:
        self.r = client
        self.partitions = partitions
        self.dedupe_ttl_s = dedupe_ttl_s
        self.conversation_ttl_s = conversation_ttl_s
        self.keys = keys or KeyBuilder()
        self.enqueue: AsyncScript = client.register_script(redis_scripts.ENQUEUE)
        self.commit: AsyncScript = client.register_script(redis_scripts.COMMIT)
        self.complete: AsyncScript = client.register_script(redis_scripts.COMPLETE)
        self.dead: AsyncScript = client.register_script(redis_scripts.DEAD_LETTER)
        self.renew: AsyncScript = client.register_script(redis_scripts.RENEW)
        self.release: AsyncScript = client.register_script(redis_scripts.RELEASE)
        self.reserve: AsyncScript = client.register_script(redis_scripts.RESERVE)
        self.claim: AsyncScript = client.register_script(redis_scripts.CLAIM)
        self.release_due: AsyncScript = client.register_script(redis_scripts.RELEASE_DUE)
        self.config_commit: AsyncScript = client.register_script(redis_scripts.CONFIG_COMMIT)
        self.directory_swap: AsyncScript = client.register_script(redis_scripts.DIRECTORY_SWAP)
        self.audit_kept = records.AUDIT_KEPT
        self.batch = Coalescer(client)

    @classmethod
    def from_url(cls, url: str, *, partitions: int, **kwargs: Any) -> RedisBackend:
        """A client whose pool waits for a free connection instead of failing: each owned
        partition keeps one connection in a blocking read, the rest serve requests."""
        pool = BlockingConnectionPool.from_url(
            url, max_connections=partitions + POOL_HEADROOM, timeout=POOL_WAIT_S
        )
        return cls(Redis.from_pool(pool), partitions=partitions, **kwargs)

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


class RedisQueue(base.InboundQueue):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys

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
            return [bool(await self.b.batch.script(self.b.enqueue, keys, cast(list[Any], args)))]
        return [bool(r) for r in await self.b.run_pipelined(self.b.enqueue, calls)]

    async def read(
        self, partition: int, after: str, count: int, block_ms: int
    ) -> list[QueueEntry]:
        stream = self.k.inbound(partition)
        reply: Any = await self.b.r.xread(
            {stream: after}, count=count, block=block_ms if block_ms > 0 else None
        )
        out: list[QueueEntry] = []
        for _stream, entries in reply or []:
            for eid, fields in entries:
                msg = InboundMessage.model_validate_json(fields[b"m"])
                out.append(QueueEntry(_s(eid), partition, msg))
        return out

    async def release_due(self, partition: int, now: float, limit: int = 100) -> int:
        k = self.k
        moved = await self.b.release_due(
            keys=[k.schedule(partition), k.jobs(partition), k.inbound(partition)],
            args=[int(now * 1000), limit],
        )
        return int(moved)

    async def discard(self, entry: QueueEntry) -> None:
        await self.b.r.xdel(self.k.inbound(entry.partition), entry.id)

    async def dead_letter(self, entry: QueueEntry, error: str) -> None:
        p = entry.partition
        await self.b.dead(
            keys=[self.k.inbound(p), self.k.dead_letters(p)], args=[entry.id, error[:2000]]
        )

    async def depth(self) -> int:
        pipe = self.b.r.pipeline(transaction=False)
        for p in range(self.b.partitions):
            pipe.xlen(self.k.inbound(p))
        return sum(int(n) for n in await pipe.execute())


class RedisConversations(base.ConversationStore):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys

    async def load(self, partition: int, number: str, contact: str) -> Conversation | None:
        key = self.k.conversation(partition, number, contact)
        raw = await self.b.batch.call(lambda pipe: pipe.hget(key, "d"))
        return None if raw is None else Conversation.model_validate_json(raw)

    async def commit(
        self,
        partition: int,
        conversation: Conversation,
        entry: QueueEntry | None,
        outbox: list[OutboxItem],
        schedule: list[ScheduledEvent] | None = None,
    ) -> CommitResult:
        update: dict[str, Any] = {"version": conversation.version + 1}
        if entry is not None:
            update["last_entry"] = entry.id
        saved = conversation.model_copy(update=update)
        k = self.k
        reply = await self.b.batch.script(
            self.b.commit,
            [
                k.conversation(partition, conversation.number, conversation.contact),
                k.inbound(partition),
                k.outbox(partition),
                k.schedule(partition),
                k.jobs(partition),
            ],
            [
                conversation.version,
                saved.model_dump_json(),
                entry.id if entry else "",
                self.b.conversation_ttl_s,
                len(schedule or []),
                *_schedule_args(schedule or []),
                *(json.dumps(item.__dict__) for item in outbox),
            ],
        )
        if int(reply[0]) != 1:
            raise VersionConflict(
                "conversation changed since it was loaded",
                details={"expected": conversation.version, "stored": int(reply[1])},
            )
        ids = [_s(i) for i in reply[2:]]
        return CommitResult(
            [OutboxEntry(i, partition, it) for i, it in zip(ids, outbox, strict=True)],
            unsent_before=int(reply[1]),
        )


class RedisOutbox(base.Outbox):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys

    async def pending(self, partition: int) -> list[OutboxEntry]:
        entries: Any = await self.b.r.xrange(self.k.outbox(partition), "-", "+")
        return [
            OutboxEntry(_s(eid), partition, OutboxItem(**json.loads(fields[b"o"])))
            for eid, fields in entries
        ]

    async def was_sent(self, partition: int, key: str) -> bool:
        sent = self.k.sent(partition, key)
        return bool(await self.b.batch.call(lambda pipe: pipe.exists(sent)))

    async def claim(self, entry: OutboxEntry, owner: str, ttl_ms: int) -> str:
        p, key = entry.partition, entry.item.key
        result = await self.b.batch.script(
            self.b.claim, [self.k.sent(p, key), self.k.claim(p, key)], [owner, ttl_ms]
        )
        return _s(result)

    async def complete(self, entry: OutboxEntry, gateway_id: str | None) -> None:
        p = entry.partition
        await self.b.batch.script(
            self.b.complete,
            [
                self.k.sent(p, entry.item.key),
                self.k.outbox(p),
                self.k.claim(p, entry.item.key),
                self.k.conversation(p, entry.item.number, entry.item.contact),
            ],
            [self.b.dedupe_ttl_s, entry.id, gateway_id or ""],
        )

    async def depth(self) -> int:
        pipe = self.b.r.pipeline(transaction=False)
        for p in range(self.b.partitions):
            pipe.xlen(self.k.outbox(p))
        return sum(int(n) for n in await pipe.execute())


class RedisLeases(base.LeaseStore):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys

    async def acquire(self, partition: int, owner: str, ttl_ms: int) -> bool:
        key = self.k.lease(partition)
        if await self.b.r.set(key, owner, nx=True, px=ttl_ms):
            return True
        return await self.renew(partition, owner, ttl_ms)

    async def renew(self, partition: int, owner: str, ttl_ms: int) -> bool:
        return bool(await self.b.renew(keys=[self.k.lease(partition)], args=[owner, ttl_ms]))

    async def renew_many(self, partitions: list[int], owner: str, ttl_ms: int) -> list[bool]:
        calls = [([self.k.lease(p)], [owner, ttl_ms]) for p in partitions]
        if not calls:
            return []
        return [bool(r) for r in await self.b.run_pipelined(self.b.renew, calls)]

    async def release(self, partition: int, owner: str) -> None:
        await self.b.release(keys=[self.k.lease(partition)], args=[owner])

    async def heartbeat(self, owner: str, ttl_ms: int) -> int:
        now = time.time() * 1000
        key = self.k.processes()
        pipe = self.b.r.pipeline(transaction=True)
        pipe.zadd(key, {owner: now + ttl_ms})
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zcard(key)
        return int((await pipe.execute())[2])

    async def leave(self, owner: str) -> None:
        await self.b.r.zrem(self.k.processes(), owner)


class RedisRates(base.RateLimiter):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b

    async def reserve(self, number: str, per_second: float) -> float:
        interval_ms = 1000.0 / per_second
        burst_ms = max(1.0, per_second) * interval_ms
        wait_us = await self.b.batch.script(
            self.b.reserve, [self.b.keys.rate(number)], [interval_ms, burst_ms]
        )
        return float(wait_us) / 1_000_000


class RedisConfigs(base.ConfigStore):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys

    async def get_raw(self, number: str) -> str | None:
        key = self.k.config(number)
        raw = await self.b.batch.call(lambda pipe: pipe.get(key))
        return None if raw is None else _s(raw)

    async def numbers(self) -> list[str]:
        return sorted(_s(n) for n in await self.b.r.smembers(self.k.numbers()))

    async def heads(self, numbers: list[str]) -> dict[str, ConfigVersion]:
        if not numbers:
            return {}
        pipe = self.b.r.pipeline(transaction=False)
        for n in numbers:
            pipe.lindex(self.k.config_versions(n), -1)
        heads = await pipe.execute()
        return {n: records.version_of(raw) for n, raw in zip(numbers, heads, strict=True) if raw}

    async def versions(
        self, number: str, *, limit: int = 50, offset: int = 0
    ) -> list[ConfigVersion]:
        if limit <= 0:
            return []
        offset = max(offset, 0)
        raw: list[bytes | str] = await self.b.r.lrange(
            self.k.config_versions(number), -(offset + limit), -(offset + 1)
        )
        return [records.version_of(r) for r in reversed(raw)]

    async def version(self, number: str, version: int) -> ConfigVersion | None:
        if version < 1:
            return None
        raw = await self.b.r.lindex(self.k.config_versions(number), version - 1)
        return None if raw is None else records.version_of(raw)

    async def commit(
        self, changes: list[ConfigChange], audit: list[AuditEntry] | None = None
    ) -> list[ConfigVersion]:
        records.check_changes(changes)
        audit = audit or []
        if not changes:
            await RedisAudit(self.b).append(audit)
            return []
        keys = [self.k.numbers(), self.k.audit()]
        args: list[Any] = [len(changes), self.b.audit_kept]
        written = []
        for c in changes:
            record = records.version_json(c)
            keys += [self.k.config_versions(c.number), self.k.config(c.number)]
            args += [c.number, c.expected_version, record, records.config_json(c.config)]
            written.append(records.version_of(record))
        args += [records.audit_json(e) for e in audit]
        reply = await self.b.config_commit(keys=keys, args=args)
        if int(reply[0]) != 1:
            stale = reply[1:]
            raise StaleVersions({_s(stale[i]): int(stale[i + 1]) for i in range(0, len(stale), 2)})
        return written


class RedisAudit(base.AuditLog):
    #: entries read per round trip while filtering
    CHUNK = 1000

    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys

    async def append(self, entries: list[AuditEntry]) -> None:
        if not entries:
            return
        pipe = self.b.r.pipeline(transaction=True)
        pipe.lpush(self.k.audit(), *(records.audit_json(e) for e in entries))
        pipe.ltrim(self.k.audit(), 0, self.b.audit_kept - 1)
        await pipe.execute()

    async def entries(
        self,
        *,
        numbers: set[str] | None = None,
        include_global: bool = True,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Scans the list newest first in chunks. After the first chunk, positions are
        counted from the oldest end, which entries appended meanwhile do not move."""
        out: list[AuditEntry] = []
        if limit <= 0:
            return out
        keep = records.AuditFilter(numbers, include_global, actor, action)
        skip = max(offset, 0)
        key = self.k.audit()
        pipe = self.b.r.pipeline(transaction=True)
        pipe.llen(key)
        pipe.lrange(key, 0, self.CHUNK - 1)
        length, chunk = await pipe.execute()
        start = 0  # position of ``chunk[0]``, newest first, in the list of ``length`` entries
        while True:
            for raw in chunk:
                entry = records.audit_of(raw)
                if not keep(entry):
                    continue
                if skip > 0:
                    skip -= 1
                    continue
                out.append(entry)
                if len(out) >= limit:
                    return out
            start += self.CHUNK
            if len(chunk) < self.CHUNK or start >= length:
                return out
            end = min(start + self.CHUNK, length) - 1
            chunk = await self.b.r.lrange(key, start - length, end - length)


class RedisDirectory(base.DirectoryStore):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys

    async def load(self) -> tuple[int, str | None]:
        pipe = self.b.r.pipeline(transaction=True)
        pipe.get(self.k.directory_version())
        pipe.get(self.k.directory())
        version, document = await pipe.execute()
        return int(version or 0), None if document is None else _s(document)

    async def current_version(self) -> int:
        return int(await self.b.r.get(self.k.directory_version()) or 0)

    async def swap(self, expected: int, document: str, audit: list[AuditEntry]) -> int | None:
        version = await self.b.directory_swap(
            keys=[self.k.directory(), self.k.directory_version(), self.k.audit()],
            args=[expected, document, self.b.audit_kept, *(records.audit_json(e) for e in audit)],
        )
        return int(version) or None


class RedisEvents(base.EventLog):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys

    async def record_statuses(self, statuses: list[StatusUpdate]) -> None:
        if not statuses:
            return
        pipe = self.b.r.pipeline(transaction=False)
        for s in statuses:
            pipe.xadd(
                self.k.statuses(s.number),
                {"s": s.model_dump_json()},
                maxlen=EVENTS_KEPT,
                approximate=True,
            )
        await pipe.execute()

    async def record_events(self, events: list[AccountEvent]) -> None:
        if not events:
            return
        pipe = self.b.r.pipeline(transaction=False)
        for e in events:
            pipe.xadd(
                self.k.events(), {"e": e.model_dump_json()}, maxlen=EVENTS_KEPT, approximate=True
            )
        await pipe.execute()

    async def statuses(self, number: str, limit: int = 100) -> list[StatusUpdate]:
        entries: Any = await self.b.r.xrevrange(self.k.statuses(number), "+", "-", count=limit)
        return [StatusUpdate.model_validate_json(f[b"s"]) for _i, f in reversed(entries)]

    async def record_send_failure(
        self, number: str, contact: str, key: str, code: int | None, reason: str
    ) -> None:
        doc = {"contact": contact, "key": key, "code": code, "reason": reason, "at": time.time()}
        await self.b.r.xadd(
            self.k.send_failures(number),
            {"f": json.dumps(doc)},
            maxlen=EVENTS_KEPT,
            approximate=True,
        )

    async def send_failures(self, number: str, limit: int = 100) -> list[dict[str, Any]]:
        entries: Any = await self.b.r.xrevrange(
            self.k.send_failures(number), "+", "-", count=limit
        )
        return [dict(json.loads(f[b"f"])) for _i, f in reversed(entries)]

    async def record_survey(
        self, number: str, contact: str, kind: str, score: int, ticket_id: str, at: float
    ) -> None:
        doc = {"contact": contact, "kind": kind, "score": score, "ticket_id": ticket_id, "at": at}
        await self.b.r.xadd(
            self.k.surveys(number), {"s": json.dumps(doc)}, maxlen=EVENTS_KEPT, approximate=True
        )

    async def surveys(self, number: str, limit: int = 100) -> list[dict[str, Any]]:
        entries: Any = await self.b.r.xrevrange(self.k.surveys(number), "+", "-", count=limit)
        return [dict(json.loads(f[b"s"])) for _i, f in reversed(entries)]


def redis_storage(url: str, *, partitions: int, dedupe_ttl_s: int = 7 * 24 * 3600) -> Storage:
    b = RedisBackend.from_url(url, partitions=partitions, dedupe_ttl_s=dedupe_ttl_s)
    return Storage(
        queue=RedisQueue(b),
        conversations=RedisConversations(b),
        outbox=RedisOutbox(b),
        leases=RedisLeases(b),
        rates=RedisRates(b),
        configs=RedisConfigs(b),
        events=RedisEvents(b),
        tickets=RedisTickets(b),
        audit=RedisAudit(b),
        directory=RedisDirectory(b),
        backend=b,
    )
