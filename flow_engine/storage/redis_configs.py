"""Number configurations in Redis, every version kept, on the admin slot.

Every commit counts itself in ``fe:{admin}:cfggen`` and publishes ``<generation>
<number>…`` on the channel of that name, in the commit's own script: :meth:`watch` tells
a process's cache which numbers changed. A cache never learns of a commit late without
knowing it: after every (re)subscription the counter is read, and read again every
``POLL_S`` seconds, so a missed or late message (a reconnect, a Redis restart or flush)
shows as a counter the listener did not expect and the whole cache is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from flow_engine.logging import LogThrottle
from flow_engine.storage import records, redis_scripts
from flow_engine.storage.audit import AuditEntry
from flow_engine.storage.configs import (
    ConfigChange,
    ConfigListener,
    ConfigStore,
    ConfigVersion,
    StaleVersions,
)
from flow_engine.storage.redis_audit import RedisAudit
from flow_engine.storage.redis_backend import RedisBackend, text

log = structlog.get_logger()

#: How often the commit counter is read besides the messages (a silent subscription).
POLL_S = 1.0
#: Pause before subscribing again after the subscription failed.
RETRY_S = 0.5
#: Longest wait for Redis to confirm a subscription.
SUBSCRIBE_S = 5.0


class RedisConfigs(ConfigStore):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys
        self.commit_script = b.script(redis_scripts.CONFIG_COMMIT)

    async def get_raw(self, number: str) -> str | None:
        key = self.k.config(number)
        raw = await self.b.batch.call(lambda pipe: pipe.get(key))
        return None if raw is None else text(raw)

    async def numbers(self) -> list[str]:
        return sorted(text(n) for n in await self.b.r.smembers(self.k.numbers()))

    async def present(self, numbers: list[str]) -> set[str]:
        if not numbers:
            return set()
        pipe = self.b.r.pipeline(transaction=False)
        for n in numbers:
            pipe.exists(self.k.config(n))
        found = await pipe.execute()
        return {n for n, there in zip(numbers, found, strict=True) if there}

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
        keys.append(self.k.config_generation())
        args += [records.audit_json(e) for e in audit]
        reply = await self.commit_script(keys=keys, args=args)
        if int(reply[0]) != 1:
            stale = reply[1:]
            raise StaleVersions(
                {text(stale[i]): int(stale[i + 1]) for i in range(0, len(stale), 2)}
            )
        return written

    async def generation(self) -> int:
        return int(await self.b.r.get(self.k.config_generation()) or 0)

    async def watch(self, listener: ConfigListener) -> None:
        throttle = LogThrottle()
        try:
            while True:
                try:
                    await self._follow(listener)
                except Exception as exc:  # the subscription broke: tell, wait, subscribe again
                    listener.lost()
                    # an outage breaks every attempt: one line per kind per interval
                    left_out = throttle.allow(type(exc).__name__)
                    if left_out is not None:
                        log.warning(
                            "config_watch_interrupted",
                            kind=type(exc).__name__,
                            error=repr(exc)[:200],
                            left_out=left_out,
                        )
                    await asyncio.sleep(RETRY_S)
        finally:
            listener.lost()

    async def _follow(self, listener: ConfigListener) -> None:
        channel = self.k.config_generation()
        await self.b.connect()
        pubsub = self.b.r.pubsub()
        try:
            await pubsub.subscribe(channel)
            await _subscribed(pubsub)  # from here on, every commit is published to us
            reconnects = _Reconnects()
            if pubsub.connection is not None:
                pubsub.connection.register_connect_callback(reconnects.on_connect)
            known = await self.generation()
            listener.resync(known)
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_S)
                if reconnects.count:
                    raise ConnectionError("the subscription's connection was replaced")
                if message is not None and message["type"] == "message":
                    generation, *numbers = text(message["data"]).split()
                    known = max(known, int(generation))
                    listener.changed(int(generation), numbers)
                elif message is None and (current := await self.generation()) != known:
                    known = current  # a commit went by untold, or the store was reset
                    listener.resync(current)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]


class _Reconnects:
    """Counts the reconnections of a subscription's connection. redis-py reconnects a
    broken one and subscribes again by itself (commands retry on connection errors), but
    what was published in between is lost to us: the watch must start over (told lost,
    then resynced) instead of trusting its cache."""

    def __init__(self) -> None:
        self.count = 0

    def on_connect(self, _connection: Any) -> None:
        self.count += 1


async def _subscribed(pubsub: Any) -> None:
    """Wait (up to ``SUBSCRIBE_S``) for the confirmation of the subscription."""
    async with asyncio.timeout(SUBSCRIBE_S):
        while True:
            message = await pubsub.get_message(timeout=SUBSCRIBE_S)
            if message is not None and message["type"] == "subscribe":
                return
