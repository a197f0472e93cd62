"""Conversation records in this process, committed with their outbox, timers and queue
ack in one step (no await in between)."""

from __future__ import annotations

import json
import time
from collections import OrderedDict

from flow_engine.domain.conversation import Conversation
from flow_engine.domain.facts import Facts
from flow_engine.errors import VersionConflict
from flow_engine.storage.conversations import CommitResult, ConversationStore
from flow_engine.storage.memory_backend import MemoryBackend
from flow_engine.storage.memory_rollups import state_of
from flow_engine.storage.outbox import OutboxEntry, OutboxItem, SendClaim
from flow_engine.storage.queue import QueueEntry, ScheduledEvent


class MemoryConversations(ConversationStore):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def load(self, partition: int, number: str, contact: str) -> Conversation | None:
        raw = self.b.record((number, contact))
        if raw is not None:
            return Conversation.model_validate_json(raw)
        known = self.b.known_since((number, contact))
        if known is None:
            return None
        return Conversation.known_again(number, contact, known)

    async def commit(
        self,
        partition: int,
        conversation: Conversation,
        entry: QueueEntry | None,
        outbox: list[OutboxItem],
        schedule: list[ScheduledEvent] | None = None,
        facts: Facts | None = None,
        claim: SendClaim | None = None,
    ) -> CommitResult:
        key = (conversation.number, conversation.contact)
        raw = self.b.record(key)
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
        retention, now = self.b.retention, time.monotonic()
        if retention.conversation_s > 0:
            self.b.record_expiry[key] = now + retention.conversation_s
        else:
            self.b.record_expiry.pop(key, None)
        if retention.marks_contacts:
            self.b.known[key] = (saved.first_seen, now + retention.contact_s)
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
            claimed_at = 0.0
            if claim is not None:
                claimed_at = now
                self.b.claims[item.key] = (claim.owner, now + claim.ttl_ms / 1000)
            result.outbox.append(OutboxEntry(oid, partition, item, claimed_at=claimed_at))
        state_of(self.b).append(partition, facts)
        if entry is not None:
            self.b.inbound.get(partition, OrderedDict()).pop(entry.id, None)
        return result
