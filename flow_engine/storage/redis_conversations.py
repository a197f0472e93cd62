"""Conversation records in Redis, committed with their outbox, timers, data facts and queue
ack by one script over keys of the conversation's partition slot."""

from __future__ import annotations

import time
from typing import Any

from flow_engine.domain import jsoncodec
from flow_engine.domain.conversation import Conversation
from flow_engine.domain.facts import Facts
from flow_engine.errors import VersionConflict
from flow_engine.storage import redis_scripts
from flow_engine.storage.conversations import CommitResult, ConversationStore
from flow_engine.storage.outbox import OutboxEntry, OutboxItem, SendClaim
from flow_engine.storage.queue import QueueEntry, ScheduledEvent
from flow_engine.storage.redis_backend import RedisBackend, text


def _schedule_args(schedule: list[ScheduledEvent]) -> list[str]:
    args: list[str] = []
    for job in schedule:
        due = "" if job.due is None else str(int(job.due * 1000))
        message = "" if job.message is None else job.message.model_dump_json()
        args += [job.job_id, due, message]
    return args


class RedisConversations(ConversationStore):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys
        self.commit_script = b.script(redis_scripts.COMMIT)
        self.load_script = b.script(redis_scripts.LOAD)

    async def load(self, partition: int, number: str, contact: str) -> Conversation | None:
        keys = [
            self.k.conversation(partition, number, contact),
            self.k.known_contact(partition, number, contact),
        ]
        raw = await self.b.batch.script(self.load_script, keys, [])
        if raw is None:
            return None
        if isinstance(raw, list):  # the record expired; the contact is still known
            return Conversation.known_again(number, contact, float(text(raw[0])))
        # the engine's own record (commit): read without validating it again
        return Conversation.model_construct(**jsoncodec.loads(raw))

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
        update: dict[str, Any] = {"version": conversation.version + 1}
        if entry is not None:
            update["last_entry"] = entry.id
        saved = conversation.model_copy(update=update)
        k, retention = self.k, self.b.retention
        keys = [
            k.conversation(partition, conversation.number, conversation.contact),
            k.inbound(partition),
            k.outbox(partition),
            k.schedule(partition),
            k.jobs(partition),
            k.facts(partition),
            k.known_contact(partition, conversation.number, conversation.contact),
        ]
        if claim is not None:
            keys += [k.claim(partition, item.key) for item in outbox]
        # before the script runs: the claim may be younger than this, never older
        claimed_at = time.monotonic() if claim is not None and outbox else 0.0
        reply = await self.b.batch.script(
            self.commit_script,
            keys,
            [
                conversation.version,
                saved.model_dump_json(),
                entry.id if entry else "",
                round(retention.conversation_s * 1000),
                round(retention.contact_s * 1000) if retention.marks_contacts else 0,
                repr(saved.first_seen),
                claim.owner if claim is not None else "",
                claim.ttl_ms if claim is not None else 0,
                len(schedule or []),
                *_schedule_args(schedule or []),
                facts.to_json() if facts else "",
                *(jsoncodec.dumps(item.__dict__) for item in outbox),
            ],
        )
        if int(reply[0]) != 1:
            raise VersionConflict(
                "conversation changed since it was loaded",
                details={"expected": conversation.version, "stored": int(reply[1])},
            )
        ids = [text(i) for i in reply[2:]]
        return CommitResult(
            [
                OutboxEntry(i, partition, it, claimed_at=claimed_at)
                for i, it in zip(ids, outbox, strict=True)
            ],
            unsent_before=int(reply[1]),
        )
