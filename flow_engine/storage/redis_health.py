"""The health store in Redis, shared by every engine process.

Every key carries one hash tag, ``{health}`` (:class:`HealthKeys`), so each atomic step is
one Lua script (``redis_scripts.HEALTH_*``) on one slot, and a cluster serves it whole —
the health data is small: a record per number, at most 90 snapshots, a few hundred events
and changes. A record is a hash (``v`` version, ``d`` JSON); jobs are a sorted set per
kind (key → due time) beside their payloads and failed attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flow_engine.domain.activation import ActivationRecord
from flow_engine.domain.health import (
    HISTORY_KEPT,
    ClassChange,
    DailySnapshot,
    HealthEvent,
    NumberHealth,
)
from flow_engine.storage import redis_scripts
from flow_engine.storage.health import DailyState, HealthStore, Job, NewJob
from flow_engine.storage.keys import KeyBuilder
from flow_engine.storage.redis_backend import RedisBackend, text


@dataclass(frozen=True)
class HealthKeys:
    """Keys of the health store, all in the ``{health}`` slot."""

    keys: KeyBuilder

    def _h(self) -> str:
        return f"{self.keys.prefix}:{{health}}"

    def record(self, number: str) -> str:
        return f"{self._h()}:rec:{number}"

    def days(self, number: str) -> str:
        return f"{self._h()}:days:{number}"

    def changes(self, number: str) -> str:
        return f"{self._h()}:changes:{number}"

    def events(self, number: str) -> str:
        return f"{self._h()}:ev:{number}"

    def event_order(self, number: str) -> str:
        return f"{self._h()}:evo:{number}"

    def event_seq(self, number: str) -> str:
        return f"{self._h()}:evs:{number}"

    def due(self, kind: str) -> str:
        return f"{self._h()}:due:{kind}"

    def payloads(self, kind: str) -> str:
        return f"{self._h()}:job:{kind}"

    def attempts(self, kind: str) -> str:
        return f"{self._h()}:tries:{kind}"

    def daily(self) -> str:
        return f"{self._h()}:daily"

    def activation(self, number: str) -> str:
        return f"{self._h()}:act:{number}"

    def pin(self, number: str) -> str:
        return f"{self._h()}:pin:{number}"


def _num(value: float) -> str:
    """A float as Redis and Lua read it back exactly."""
    return repr(float(value))


def _job_args(jobs: list[NewJob], k: HealthKeys) -> tuple[list[str], list[Any]]:
    keys: list[str] = []
    args: list[Any] = []
    for j in jobs:
        keys += [k.due(j.kind), k.payloads(j.kind)]
        args += [j.key, _num(j.due), j.payload, "1" if j.replace else "0"]
    return keys, args


class RedisHealth(HealthStore):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = HealthKeys(b.keys)
        self._save_script = b.script(redis_scripts.HEALTH_SAVE)
        self._schedule = b.script(redis_scripts.HEALTH_SCHEDULE)
        self._claim = b.script(redis_scripts.HEALTH_CLAIM)
        self._finish = b.script(redis_scripts.HEALTH_FINISH)
        self._retry = b.script(redis_scripts.HEALTH_RETRY)
        self._event = b.script(redis_scripts.HEALTH_EVENT)
        self._daily_begin = b.script(redis_scripts.HEALTH_DAILY_BEGIN)
        self._daily_renew = b.script(redis_scripts.HEALTH_DAILY_RENEW)
        self._code_request = b.script(redis_scripts.HEALTH_CODE_REQUEST)
        self._code_cancel = b.script(redis_scripts.HEALTH_CODE_CANCEL)

    async def get(self, number: str) -> NumberHealth | None:
        raw: Any = await self.b.r.hget(self.k.record(number), "d")
        return None if raw is None else NumberHealth.model_validate_json(raw)

    async def many(self, numbers: list[str]) -> dict[str, NumberHealth]:
        if not numbers:
            return {}
        pipe = self.b.r.pipeline(transaction=False)
        for n in numbers:
            pipe.hget(self.k.record(n), "d")
        found = await pipe.execute()
        return {
            n: NumberHealth.model_validate_json(raw)
            for n, raw in zip(numbers, found, strict=True)
            if raw is not None
        }

    async def _save(
        self,
        expected_version: int,
        after: NumberHealth,
        snapshot: DailySnapshot | None,
        oldest_day: str,
        change: ClassChange | None,
        jobs: list[NewJob],
    ) -> bool:
        n = after.number
        job_keys, job_args = _job_args(jobs, self.k)
        keys = [self.k.record(n), self.k.days(n), self.k.changes(n), *job_keys]
        args = [
            expected_version,
            after.model_dump_json(),
            snapshot.day if snapshot else "",
            snapshot.model_dump_json() if snapshot else "",
            oldest_day,
            change.model_dump_json() if change else "",
            HISTORY_KEPT,
            len(jobs),
            *job_args,
        ]
        return bool(await self._save_script(keys=keys, args=args))

    async def snapshots(self, number: str) -> list[DailySnapshot]:
        days: Any = await self.b.r.hgetall(self.k.days(number))
        return [DailySnapshot.model_validate_json(days[d]) for d in sorted(days)]

    async def changes(self, number: str, limit: int = 100) -> list[ClassChange]:
        raw: Any = await self.b.r.lrange(self.k.changes(number), -limit, -1)
        return [ClassChange.model_validate_json(r) for r in reversed(raw)]

    async def record_event(self, event: HealthEvent) -> bool:
        n = event.number
        keys = [self.k.events(n), self.k.event_order(n), self.k.event_seq(n)]
        return bool(
            await self._event(keys=keys, args=[event.id, event.model_dump_json(), HISTORY_KEPT])
        )

    async def events(self, number: str, limit: int = 100) -> list[HealthEvent]:
        ids: Any = await self.b.r.zrevrange(self.k.event_order(number), 0, limit - 1)
        if not ids:
            return []
        raw = await self.b.r.hmget(self.k.events(number), ids)
        return [HealthEvent.model_validate_json(r) for r in raw if r is not None]

    # ------------------------------------------------------------------ jobs
    async def schedule(self, jobs: list[NewJob]) -> None:
        if jobs:
            keys, args = _job_args(jobs, self.k)
            await self._schedule(keys=keys, args=args)

    async def claim(self, kind: str, now: float, lease_s: float, limit: int = 50) -> list[Job]:
        token = now + lease_s
        keys = [self.k.due(kind), self.k.payloads(kind), self.k.attempts(kind)]
        flat: list[Any] = await self._claim(keys=keys, args=[_num(now), _num(token), limit])
        return [
            Job(kind, text(flat[i]), text(flat[i + 1]), int(flat[i + 2]), token)
            for i in range(0, len(flat), 3)
        ]

    async def finish(self, job: Job) -> bool:
        k = self.k
        keys = [k.due(job.kind), k.payloads(job.kind), k.attempts(job.kind)]
        return bool(await self._finish(keys=keys, args=[job.key, _num(job.token)]))

    async def retry(self, job: Job, due: float) -> bool:
        keys = [self.k.due(job.kind), self.k.attempts(job.kind)]
        return bool(await self._retry(keys=keys, args=[job.key, _num(job.token), _num(due)]))

    async def pending(self, kind: str) -> int:
        return int(await self.b.r.zcard(self.k.due(kind)))

    # ------------------------------------------------------------------ the daily read
    async def daily_begin(self, day: str, owner: str, now: float, ttl_s: float) -> DailyState:
        args = [day, owner, _num(now), _num(now + ttl_s)]
        state = text(await self._daily_begin(keys=[self.k.daily()], args=args))
        assert state in ("ok", "busy", "done"), state
        return state  # type: ignore[return-value]

    async def daily_renew(self, day: str, owner: str, now: float, ttl_s: float) -> bool:
        args = [day, owner, _num(now + ttl_s)]
        return bool(await self._daily_renew(keys=[self.k.daily()], args=args))

    async def daily_finish(self, day: str, owner: str) -> bool:
        return bool(await self._daily_renew(keys=[self.k.daily()], args=[day, owner, ""]))

    async def daily_done(self) -> str | None:
        done: Any = await self.b.r.hget(self.k.daily(), "done")
        return None if done is None else text(done)

    # ------------------------------------------------------------------ activation
    async def activation(self, number: str) -> ActivationRecord | None:
        raw: Any = await self.b.r.hgetall(self.k.activation(number))
        if not raw:
            return None
        fields = {text(k): text(v) for k, v in raw.items()}
        return ActivationRecord.model_validate({"number": number, **fields})

    async def claim_code_request(
        self, number: str, now: float, interval_s: float, method: str
    ) -> float:
        args = [_num(now), _num(interval_s), method]
        wait = await self._code_request(keys=[self.k.activation(number)], args=args)
        return float(text(wait))

    async def cancel_code_request(self, number: str, at: float) -> None:
        await self._code_cancel(keys=[self.k.activation(number)], args=[_num(at)])

    async def mark_activation(
        self, number: str, *, verified_at: float | None = None, registered_at: float | None = None
    ) -> None:
        key = self.k.activation(number)
        pipe = self.b.r.pipeline(transaction=True)
        if verified_at is not None:
            pipe.hset(key, "verified_at", _num(verified_at))
        if registered_at is not None:
            pipe.hset(key, "registered_at", _num(registered_at))
            pipe.hdel(key, "verified_at")
        await pipe.execute()

    async def keep_pin(self, number: str, pin: str | None) -> None:
        if pin is None:
            await self.b.r.delete(self.k.pin(number))
        else:
            await self.b.r.set(self.k.pin(number), pin)

    async def pin(self, number: str) -> str | None:
        raw = await self.b.r.get(self.k.pin(number))
        return None if raw is None else text(raw)
