"""The embedded store: all state in this process, serialized as JSON like Redis.

It gives the same guarantees as Redis within one process: atomic dedupe +
enqueue, atomic commit, ordered per-partition queues. Nothing survives a restart.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from typing import Any

from flow_engine.domain.conversation import Conversation
from flow_engine.domain.inbound import AccountEvent, InboundMessage, StatusUpdate
from flow_engine.errors import VersionConflict
from flow_engine.storage import base, records
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
    entry_order,
)
from flow_engine.storage.memory_tickets import MemoryTickets

EVENTS_KEPT = 10_000


class MemoryBackend:
    """Shared state of the memory stores (one per Storage)."""

    def __init__(self, dedupe_ttl_s: float = 7 * 24 * 3600) -> None:
        self.dedupe_ttl_s = dedupe_ttl_s
        self.seq = 0
        self.inbound: dict[int, OrderedDict[str, str]] = {}
        self.outbox: dict[int, OrderedDict[str, str]] = {}
        self.dead: list[tuple[str, str, str]] = []
        # key -> expiry (monotonic); one TTL per kind of mark, so insertion order is expiry order
        self.marks: OrderedDict[str, float] = OrderedDict()
        self.records: dict[tuple[str, str], str] = {}
        self.claims: dict[str, tuple[str, float]] = {}
        self.jobs: dict[int, dict[str, tuple[float, str]]] = {}  # partition -> id -> (due, msg)
        self.unsent: dict[tuple[str, str], int] = {}
        self.configs: dict[str, str] = {}  # number -> configuration in force (JSON)
        self.config_versions: dict[str, list[str]] = {}  # number -> version records, oldest first
        self.audit: list[str] = []  # oldest first, capped at audit_kept
        self.audit_kept = records.AUDIT_KEPT
        self.directory: tuple[int, str | None] = (0, None)
        self.statuses: dict[str, list[str]] = {}
        self.failures: dict[str, list[str]] = {}
        self.surveys: dict[str, list[str]] = {}
        self.events: list[str] = []
        self.rate_tat: dict[str, float] = {}
        self.waiters: dict[int, set[asyncio.Event]] = {}

    def next_id(self) -> str:
        self.seq += 1
        return f"{int(time.time() * 1000)}-{self.seq}"

    def mark(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        while self.marks:  # drop expired marks from the oldest end
            oldest, expiry = next(iter(self.marks.items()))
            if expiry > now:
                break
            del self.marks[oldest]
        if key in self.marks:
            return False
        self.marks[key] = now + ttl
        return True

    def has_mark(self, key: str) -> bool:
        expiry = self.marks.get(key)
        return expiry is not None and expiry > time.monotonic()

    def append_audit(self, entries: list[AuditEntry]) -> None:
        if not entries:
            return
        self.audit.extend(records.audit_json(e) for e in entries)
        excess = len(self.audit) - self.audit_kept
        if excess > 0:
            del self.audit[:excess]

    def notify(self, partition: int) -> None:
        for event in self.waiters.get(partition, ()):
            event.set()

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class MemoryQueue(base.InboundQueue):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def enqueue(self, partition: int, message: InboundMessage) -> bool:
        if not self.b.mark(f"dedupe:{message.message_id}", self.b.dedupe_ttl_s):
            return False
        q = self.b.inbound.setdefault(partition, OrderedDict())
        q[self.b.next_id()] = message.model_dump_json()
        self.b.notify(partition)
        return True

    def _after(self, partition: int, after: str, count: int) -> list[QueueEntry]:
        q = self.b.inbound.get(partition, OrderedDict())
        floor = entry_order(after)
        out = []
        for eid, raw in q.items():
            if entry_order(eid) > floor:
                out.append(QueueEntry(eid, partition, InboundMessage.model_validate_json(raw)))
                if len(out) >= count:
                    break
        return out

    async def read(
        self, partition: int, after: str, count: int, block_ms: int
    ) -> list[QueueEntry]:
        entries = self._after(partition, after, count)
        if entries or block_ms <= 0:
            return entries
        event = asyncio.Event()
        waiting = self.b.waiters.setdefault(partition, set())
        waiting.add(event)
        try:
            await asyncio.wait_for(event.wait(), block_ms / 1000)
        except TimeoutError:
            return []
        finally:
            waiting.discard(event)
        return self._after(partition, after, count)

    async def release_due(self, partition: int, now: float, limit: int = 100) -> int:
        jobs = self.b.jobs.get(partition, {})
        due = sorted((d, job_id) for job_id, (d, _m) in jobs.items() if d <= now)[:limit]
        q = self.b.inbound.setdefault(partition, OrderedDict())
        for _d, job_id in due:
            _due, raw = jobs.pop(job_id)
            q[self.b.next_id()] = raw
        if due:
            self.b.notify(partition)
        return len(due)

    async def discard(self, entry: QueueEntry) -> None:
        self.b.inbound.get(entry.partition, OrderedDict()).pop(entry.id, None)

    async def dead_letter(self, entry: QueueEntry, error: str) -> None:
        raw = self.b.inbound.get(entry.partition, OrderedDict()).pop(entry.id, None)
        if raw is not None:
            self.b.dead.append((entry.id, raw, error))

    async def depth(self) -> int:
        return sum(len(q) for q in self.b.inbound.values())


class MemoryConversations(base.ConversationStore):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def load(self, partition: int, number: str, contact: str) -> Conversation | None:
        raw = self.b.records.get((number, contact))
        return None if raw is None else Conversation.model_validate_json(raw)

    async def commit(
        self,
        partition: int,
        conversation: Conversation,
        entry: QueueEntry | None,
        outbox: list[OutboxItem],
        schedule: list[ScheduledEvent] | None = None,
    ) -> CommitResult:
        key = (conversation.number, conversation.contact)
        raw = self.b.records.get(key)
        stored = 0 if raw is None else Conversation.model_validate_json(raw).version
        if stored != conversation.version:
            raise VersionConflict(
                "conversation changed since it was loaded",
                details={"expected": conversation.version, "stored": stored},
            )
        saved = conversation.model_copy(update={"version": conversation.version + 1})
        if entry is not None:
            saved = saved.model_copy(update={"last_entry": entry.id})
        self.b.records[key] = saved.model_dump_json()
        jobs = self.b.jobs.setdefault(partition, {})
        for job in schedule or []:
            if job.due is None or job.message is None:
                jobs.pop(job.job_id, None)
            else:
                jobs[job.job_id] = (job.due, job.message.model_dump_json())
        result = CommitResult(unsent_before=self.b.unsent.get(key, 0))
        self.b.unsent[key] = result.unsent_before + len(outbox)
        box = self.b.outbox.setdefault(partition, OrderedDict())
        for item in outbox:
            oid = self.b.next_id()
            box[oid] = json.dumps(item.__dict__)
            result.outbox.append(OutboxEntry(oid, partition, item))
        if entry is not None:
            self.b.inbound.get(partition, OrderedDict()).pop(entry.id, None)
        return result


class MemoryOutbox(base.Outbox):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def pending(self, partition: int) -> list[OutboxEntry]:
        box = self.b.outbox.get(partition, OrderedDict())
        return [OutboxEntry(i, partition, OutboxItem(**json.loads(r))) for i, r in box.items()]

    async def was_sent(self, partition: int, key: str) -> bool:
        return self.b.has_mark(f"sent:{key}")

    async def claim(self, entry: OutboxEntry, owner: str, ttl_ms: int) -> str:
        key = entry.item.key
        if self.b.has_mark(f"sent:{key}"):
            return "sent"
        now = time.monotonic()
        holder = self.b.claims.get(key)
        if holder is not None and holder[1] > now and holder[0] != owner:
            return "busy"
        self.b.claims[key] = (owner, now + ttl_ms / 1000)
        return "ok"

    async def complete(self, entry: OutboxEntry, gateway_id: str | None) -> None:
        self.b.mark(f"sent:{entry.item.key}", self.b.dedupe_ttl_s)
        self.b.claims.pop(entry.item.key, None)
        removed = self.b.outbox.get(entry.partition, OrderedDict()).pop(entry.id, None)
        conv = (entry.item.number, entry.item.contact)
        if removed is not None and conv in self.b.unsent:
            self.b.unsent[conv] -= 1

    async def depth(self) -> int:
        return sum(len(q) for q in self.b.outbox.values())


class MemoryLeases(base.LeaseStore):
    """One process owns everything; leases still expire so tests can exercise them."""

    def __init__(self) -> None:
        self.leases: dict[int, tuple[str, float]] = {}
        self.alive: dict[str, float] = {}

    def _holder(self, partition: int) -> str | None:
        held = self.leases.get(partition)
        if held is None or held[1] <= time.monotonic():
            return None
        return held[0]

    async def acquire(self, partition: int, owner: str, ttl_ms: int) -> bool:
        if self._holder(partition) not in (None, owner):
            return False
        self.leases[partition] = (owner, time.monotonic() + ttl_ms / 1000)
        return True

    async def renew(self, partition: int, owner: str, ttl_ms: int) -> bool:
        if self._holder(partition) != owner:
            return False
        self.leases[partition] = (owner, time.monotonic() + ttl_ms / 1000)
        return True

    async def release(self, partition: int, owner: str) -> None:
        if self._holder(partition) == owner:
            del self.leases[partition]

    async def heartbeat(self, owner: str, ttl_ms: int) -> int:
        now = time.monotonic()
        self.alive[owner] = now + ttl_ms / 1000
        return sum(1 for exp in self.alive.values() if exp > now)

    async def leave(self, owner: str) -> None:
        self.alive.pop(owner, None)


class MemoryRates(base.RateLimiter):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def reserve(self, number: str, per_second: float) -> float:
        now = time.monotonic()
        interval = 1.0 / per_second
        burst = max(1.0, per_second) * interval
        tat = max(self.b.rate_tat.get(number, now), now)
        self.b.rate_tat[number] = tat + interval
        return max(0.0, tat + interval - burst - now)


class MemoryConfigs(base.ConfigStore):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def get_raw(self, number: str) -> str | None:
        return self.b.configs.get(number)

    async def numbers(self) -> list[str]:
        return sorted(self.b.configs)

    async def heads(self, numbers: list[str]) -> dict[str, ConfigVersion]:
        return {
            n: records.version_of(self.b.config_versions[n][-1])
            for n in numbers
            if self.b.config_versions.get(n)
        }

    async def versions(
        self, number: str, *, limit: int = 50, offset: int = 0
    ) -> list[ConfigVersion]:
        kept = self.b.config_versions.get(number, [])
        if limit <= 0 or offset >= len(kept):
            return []
        newest = len(kept) - max(offset, 0)
        return [records.version_of(r) for r in reversed(kept[max(newest - limit, 0) : newest])]

    async def version(self, number: str, version: int) -> ConfigVersion | None:
        kept = self.b.config_versions.get(number, [])
        if not 1 <= version <= len(kept):
            return None
        return records.version_of(kept[version - 1])

    async def commit(
        self, changes: list[ConfigChange], audit: list[AuditEntry] | None = None
    ) -> list[ConfigVersion]:
        records.check_changes(changes)
        # check everything, then write everything: no await in between
        stale = {
            c.number: len(self.b.config_versions.get(c.number, []))
            for c in changes
            if len(self.b.config_versions.get(c.number, [])) != c.expected_version
        }
        if stale:
            raise StaleVersions(stale)
        written = []
        for c in changes:
            record = records.version_json(c)
            self.b.config_versions.setdefault(c.number, []).append(record)
            self.b.configs[c.number] = records.config_json(c.config)
            written.append(records.version_of(record))
        self.b.append_audit(audit or [])
        return written


class MemoryAudit(base.AuditLog):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def append(self, entries: list[AuditEntry]) -> None:
        self.b.append_audit(entries)

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
        keep = records.AuditFilter(numbers, include_global, actor, action)
        out: list[AuditEntry] = []
        skip = offset
        if limit <= 0:
            return out
        for raw in reversed(self.b.audit):
            entry = records.audit_of(raw)
            if not keep(entry):
                continue
            if skip > 0:
                skip -= 1
                continue
            out.append(entry)
            if len(out) >= limit:
                break
        return out


class MemoryDirectory(base.DirectoryStore):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def load(self) -> tuple[int, str | None]:
        return self.b.directory

    async def current_version(self) -> int:
        return self.b.directory[0]

    async def swap(self, expected: int, document: str, audit: list[AuditEntry]) -> int | None:
        if self.b.directory[0] != expected:
            return None
        self.b.directory = (expected + 1, document)
        self.b.append_audit(audit)
        return expected + 1


class MemoryEvents(base.EventLog):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def record_statuses(self, statuses: list[StatusUpdate]) -> None:
        for s in statuses:
            kept = self.b.statuses.setdefault(s.number, [])
            kept.append(s.model_dump_json())
            del kept[:-EVENTS_KEPT]

    async def record_events(self, events: list[AccountEvent]) -> None:
        self.b.events.extend(e.model_dump_json() for e in events)
        del self.b.events[:-EVENTS_KEPT]

    async def statuses(self, number: str, limit: int = 100) -> list[StatusUpdate]:
        raw = self.b.statuses.get(number, [])[-limit:]
        return [StatusUpdate.model_validate_json(r) for r in raw]

    async def record_send_failure(
        self, number: str, contact: str, key: str, code: int | None, reason: str
    ) -> None:
        kept = self.b.failures.setdefault(number, [])
        kept.append(
            json.dumps(
                {"contact": contact, "key": key, "code": code, "reason": reason, "at": time.time()}
            )
        )
        del kept[:-EVENTS_KEPT]

    async def send_failures(self, number: str, limit: int = 100) -> list[dict[str, Any]]:
        return [json.loads(r) for r in self.b.failures.get(number, [])[-limit:]]

    async def record_survey(
        self, number: str, contact: str, kind: str, score: int, ticket_id: str, at: float
    ) -> None:
        kept = self.b.surveys.setdefault(number, [])
        kept.append(
            json.dumps(
                {
                    "contact": contact,
                    "kind": kind,
                    "score": score,
                    "ticket_id": ticket_id,
                    "at": at,
                }
            )
        )
        del kept[:-EVENTS_KEPT]

    async def surveys(self, number: str, limit: int = 100) -> list[dict[str, Any]]:
        return [json.loads(r) for r in self.b.surveys.get(number, [])[-limit:]]


def memory_storage(dedupe_ttl_s: float = 7 * 24 * 3600) -> Storage:
    b = MemoryBackend(dedupe_ttl_s)
    return Storage(
        queue=MemoryQueue(b),
        conversations=MemoryConversations(b),
        outbox=MemoryOutbox(b),
        leases=MemoryLeases(),
        rates=MemoryRates(b),
        configs=MemoryConfigs(b),
        events=MemoryEvents(b),
        tickets=MemoryTickets(b),
        audit=MemoryAudit(b),
        directory=MemoryDirectory(b),
        backend=b,
    )
