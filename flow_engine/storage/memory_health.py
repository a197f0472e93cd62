"""The health store in this process, kept as JSON like the other memory stores."""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field

from flow_engine.domain.activation import ActivationRecord, CodeMethod
from flow_engine.domain.health import (
    HISTORY_KEPT,
    ClassChange,
    DailySnapshot,
    HealthEvent,
    NumberHealth,
)
from flow_engine.storage.health import DailyState, HealthStore, Job, NewJob
from flow_engine.storage.memory_backend import MemoryBackend


@dataclass
class _HealthState:
    docs: dict[str, str] = field(default_factory=dict)  # number -> NumberHealth JSON
    days: dict[str, dict[str, str]] = field(default_factory=dict)  # number -> day -> JSON
    changes: dict[str, list[str]] = field(default_factory=dict)  # newest last
    events: dict[str, dict[str, str]] = field(default_factory=dict)  # number -> id -> JSON
    due: dict[str, dict[str, float]] = field(default_factory=dict)  # kind -> key -> due
    jobs: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> key -> JSON
    daily: dict[str, str | float] = field(default_factory=dict)  # done, owner, until
    activation: dict[str, str] = field(default_factory=dict)
    pins: dict[str, str] = field(default_factory=dict)


# one state per backend, so every MemoryHealth built on a backend sees the same records
_STATES: weakref.WeakKeyDictionary[MemoryBackend, _HealthState] = weakref.WeakKeyDictionary()


class MemoryHealth(HealthStore):
    def __init__(self, b: MemoryBackend) -> None:
        self.s = _STATES.setdefault(b, _HealthState())

    async def get(self, number: str) -> NumberHealth | None:
        raw = self.s.docs.get(number)
        return None if raw is None else NumberHealth.model_validate_json(raw)

    async def many(self, numbers: list[str]) -> dict[str, NumberHealth]:
        return {
            n: NumberHealth.model_validate_json(self.s.docs[n])
            for n in numbers
            if n in self.s.docs
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
        stored = await self.get(after.number)
        if (stored.version if stored else 0) != expected_version:
            return False
        self.s.docs[after.number] = after.model_dump_json()
        days = self.s.days.setdefault(after.number, {})
        if snapshot is not None:
            days[snapshot.day] = snapshot.model_dump_json()
        for day in [d for d in days if d < oldest_day]:
            del days[day]
        if change is not None:
            kept = self.s.changes.setdefault(after.number, [])
            kept.append(change.model_dump_json())
            del kept[:-HISTORY_KEPT]
        self._schedule(jobs)
        return True

    async def snapshots(self, number: str) -> list[DailySnapshot]:
        days = self.s.days.get(number, {})
        return [DailySnapshot.model_validate_json(days[d]) for d in sorted(days)]

    async def changes(self, number: str, limit: int = 100) -> list[ClassChange]:
        kept = self.s.changes.get(number, [])
        return [ClassChange.model_validate_json(raw) for raw in reversed(kept[-limit:])]

    async def record_event(self, event: HealthEvent) -> bool:
        kept = self.s.events.setdefault(event.number, {})
        if event.id in kept:
            return False
        kept[event.id] = event.model_dump_json()
        while len(kept) > HISTORY_KEPT:
            del kept[next(iter(kept))]
        return True

    async def events(self, number: str, limit: int = 100) -> list[HealthEvent]:
        kept = list(self.s.events.get(number, {}).values())
        return [HealthEvent.model_validate_json(raw) for raw in reversed(kept[-limit:])]

    # ------------------------------------------------------------------ jobs
    def _schedule(self, jobs: list[NewJob]) -> None:
        for j in jobs:
            due = self.s.due.setdefault(j.kind, {})
            if j.key in due and not j.replace:
                continue
            due[j.key] = j.due
            docs = self.s.jobs.setdefault(j.kind, {})
            attempts = json.loads(docs[j.key])["attempts"] if j.key in docs else 0
            docs[j.key] = json.dumps({"payload": j.payload, "attempts": attempts})

    async def schedule(self, jobs: list[NewJob]) -> None:
        self._schedule(jobs)

    async def claim(self, kind: str, now: float, lease_s: float, limit: int = 50) -> list[Job]:
        due = self.s.due.get(kind, {})
        ready = sorted((at, key) for key, at in due.items() if at <= now)[:limit]
        claimed = []
        for _at, key in ready:
            token = now + lease_s
            due[key] = token
            doc = json.loads(self.s.jobs[kind][key])
            claimed.append(Job(kind, key, doc["payload"], doc["attempts"], token))
        return claimed

    async def finish(self, job: Job) -> bool:
        due = self.s.due.get(job.kind, {})
        if due.get(job.key) != job.token:
            return False
        del due[job.key]
        del self.s.jobs[job.kind][job.key]
        return True

    async def retry(self, job: Job, due: float) -> bool:
        dues = self.s.due.get(job.kind, {})
        if dues.get(job.key) != job.token:
            return False
        dues[job.key] = due
        doc = json.loads(self.s.jobs[job.kind][job.key])
        doc["attempts"] += 1
        self.s.jobs[job.kind][job.key] = json.dumps(doc)
        return True

    async def pending(self, kind: str) -> int:
        return len(self.s.due.get(kind, {}))

    # ------------------------------------------------------------------ the daily read
    async def daily_begin(self, day: str, owner: str, now: float, ttl_s: float) -> DailyState:
        d = self.s.daily
        if d.get("done") == day:
            return "done"
        holder, until = d.get("owner"), float(d.get("until", 0))
        if holder and holder != owner and until > now:
            return "busy"
        d["owner"], d["until"], d["day"] = owner, now + ttl_s, day
        return "ok"

    async def daily_renew(self, day: str, owner: str, now: float, ttl_s: float) -> bool:
        d = self.s.daily
        if d.get("owner") != owner or d.get("day") != day:
            return False
        d["until"] = now + ttl_s
        return True

    async def daily_finish(self, day: str, owner: str) -> bool:
        d = self.s.daily
        if d.get("owner") != owner or d.get("day") != day:
            return False
        d["done"] = day
        for k in ("owner", "until", "day"):
            d.pop(k, None)
        return True

    async def daily_done(self) -> str | None:
        done = self.s.daily.get("done")
        return None if done is None else str(done)

    # ------------------------------------------------------------------ activation
    async def activation(self, number: str) -> ActivationRecord | None:
        raw = self.s.activation.get(number)
        return None if raw is None else ActivationRecord.model_validate_json(raw)

    def _put_activation(self, record: ActivationRecord) -> None:
        self.s.activation[record.number] = record.model_dump_json()

    async def claim_code_request(
        self, number: str, now: float, interval_s: float, method: str
    ) -> float:
        record = await self.activation(number) or ActivationRecord(number=number)
        if record.requested_at is not None and now - record.requested_at < interval_s:
            return interval_s - (now - record.requested_at)
        self._put_activation(
            record.model_copy(update={"requested_at": now, "method": CodeMethod(method)})
        )
        return 0.0

    async def cancel_code_request(self, number: str, at: float) -> None:
        record = await self.activation(number)
        if record is not None and record.requested_at == at:
            self._put_activation(record.model_copy(update={"requested_at": None}))

    async def mark_activation(
        self, number: str, *, verified_at: float | None = None, registered_at: float | None = None
    ) -> None:
        record = await self.activation(number) or ActivationRecord(number=number)
        update: dict[str, float | None] = {}
        if verified_at is not None:
            update["verified_at"] = verified_at
        if registered_at is not None:
            update |= {"registered_at": registered_at, "verified_at": None}
        self._put_activation(record.model_copy(update=update))

    async def keep_pin(self, number: str, pin: str | None) -> None:
        if pin is None:
            self.s.pins.pop(number, None)
        else:
            self.s.pins[number] = pin

    async def pin(self, number: str) -> str | None:
        return self.s.pins.get(number)
