"""The runtime loop: per partition, read inbound entries and handle each
conversation's messages one at a time, in order.

A partition is owned by one process at a time (``partitions.py``). Within a batch
read from a partition, different conversations run concurrently and each
conversation's entries run sequentially: lock (the partition lease) → load →
run the flow → commit (version-checked save + outbox + queue ack, atomic) →
send the outbox. A crash anywhere leaves the entry in the queue or its replies in
the outbox, and the next owner finishes the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from flow_engine.domain import facts as data_facts
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.conversation import Conversation
from flow_engine.domain.facts import Facts
from flow_engine.domain.inbound import InboundMessage
from flow_engine.domain.notifications import ReplyTarget
from flow_engine.domain.outbound import OutboundMessage
from flow_engine.engine import events
from flow_engine.engine.configs import ConfigCache
from flow_engine.engine.flow import Flow, Turn
from flow_engine.engine.outbox import OutboxSender
from flow_engine.errors import VersionConflict
from flow_engine.logging import mask_phone
from flow_engine.metrics.registry import Metrics
from flow_engine.storage.base import Storage
from flow_engine.storage.outbox import OutboxEntry, OutboxItem
from flow_engine.storage.queue import QueueEntry, entry_order

log = structlog.get_logger()

MAX_ATTEMPTS = 5
RELEASE_EVERY_S = 0.5
#: the fact stream of a partition is folded into the rollups at most this often while
#: messages flow, and at least this often when idle (facts of a previous owner)
FOLD_EVERY_S = 1.0
FOLD_IDLE_S = 5.0
FOLD_ROUNDS = 20
BATCH = 200
READ_TYPES_SKIPPED = frozenset({"system", "reaction", "unsupported"})

#: Asked for each contact message before the flow runs: whether it is the reply to an
#: active notification (``notify/tracking.py``), and where that reply goes.
ReplyLookup = Callable[[InboundMessage], Awaitable[ReplyTarget | None]]


def outbox_items(
    message: InboundMessage, replies: list[OutboundMessage], *, mark_read: bool
) -> list[OutboxItem]:
    """The outbox of one handled message; step keys make re-runs idempotent. The replies
    to an attendant's message are the attendant's (``source``), the rest the bot's."""
    items: list[OutboxItem] = []
    source = "attendant" if message.event == events.DESK_MESSAGE else "bot"
    if mark_read and message.type not in READ_TYPES_SKIPPED:
        items.append(
            OutboxItem(
                message.number,
                message.contact,
                f"{message.message_id}:read",
                "read",
                {"message_id": message.message_id},
            )
        )
    for step, reply in enumerate(replies):
        items.append(
            OutboxItem(
                message.number,
                message.contact,
                f"{message.message_id}:{step}",
                "send",
                reply.model_dump(mode="json"),
                source,
            )
        )
    return items


class PartitionWorker:
    """Handles one owned partition until told to stop."""

    def __init__(self, runtime: Runtime, partition: int) -> None:
        self.rt = runtime
        self.partition = partition
        self.stopping = asyncio.Event()
        # this worker's own identity for send claims: a worker that lost its partition and
        # the one that took it over never both send, even inside one process
        self.owner = f"{runtime.owner}:{partition}:{uuid.uuid4().hex[:8]}"
        self.attempts: dict[str, int] = defaultdict(int)
        self.next_fold = 0.0  # monotonic time of the next fold of the partition's facts

    async def run(self) -> None:
        # one waiter for the worker's life, shared by every read (not one per read)
        self._stop_wait = asyncio.ensure_future(self.stopping.wait())
        try:
            await self._run()
        finally:
            self._stop_wait.cancel()

    async def _run(self) -> None:
        rt, p = self.rt, self.partition
        await self.recover_outbox()
        cursor = "0-0"
        next_release = 0.0
        while not self.stopping.is_set():
            if cursor == "0-0" and self.attempts:
                # a failure may have left saved replies unsent: send them before going on
                await self.recover_outbox()
            if time.monotonic() >= next_release:  # timers due: into the queue, in order
                await rt.storage.queue.release_due(p, rt.clock())
                next_release = time.monotonic() + RELEASE_EVERY_S
            if time.monotonic() >= self.next_fold:
                await self.fold_facts()
            entries = await self.read(cursor)
            if not entries:
                continue
            by_conversation: dict[tuple[str, str], list[QueueEntry]] = defaultdict(list)
            for e in entries:
                by_conversation[(e.message.number, e.message.contact)].append(e)
            results = await asyncio.gather(
                *(self.run_conversation(es) for es in by_conversation.values())
            )
            # facts of this batch: folded soon, not per message
            self.next_fold = min(self.next_fold, time.monotonic() + FOLD_EVERY_S)
            if all(results):
                cursor = entries[-1].id
            else:  # something is left in the queue: read it again, in order
                cursor = "0-0"
                await asyncio.sleep(min(1.0, 0.05 * max(self.attempts.values(), default=1)))

    async def fold_facts(self) -> None:
        """Fold the partition's data facts into the rollups (R-DATA); a failure leaves
        them in the stream for the next try."""
        self.next_fold = time.monotonic() + FOLD_IDLE_S
        try:
            for _ in range(FOLD_ROUNDS):  # bounded: the worker must see a stop soon
                if (
                    self.stopping.is_set()
                    or await self.rt.storage.rollups.fold(self.partition) == 0
                ):
                    break
            else:
                self.next_fold = time.monotonic()  # more waiting: go on at the next turn
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("facts_fold_failed", partition=self.partition, error=repr(exc))
            self.next_fold = time.monotonic() + 1.0

    async def read(self, cursor: str) -> list[QueueEntry]:
        """The next entries after ``cursor``, waiting up to ``block_ms`` for some — or none
        as soon as the worker is told to stop (reading consumes nothing, so it is safe to
        abandon)."""
        read = asyncio.ensure_future(
            self.rt.storage.queue.read(self.partition, cursor, BATCH, self.rt.block_ms)
        )
        try:
            await asyncio.wait({read, self._stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not read.done():
                read.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await read
        return read.result() if not read.cancelled() else []

    async def recover_outbox(self) -> None:
        pending = await self.rt.storage.outbox.pending(self.partition)
        if not pending:
            return
        log.info("outbox_recovery", partition=self.partition, entries=len(pending))
        groups: dict[tuple[str, str], list[OutboxEntry]] = defaultdict(list)
        for e in pending:
            groups[(e.item.number, e.item.contact)].append(e)
        await asyncio.gather(
            *(self.rt.sender.deliver(g, fresh=False, owner=self.owner) for g in groups.values())
        )

    async def run_conversation(self, entries: list[QueueEntry]) -> bool:
        """Handle one conversation's entries in order; False if one must be retried."""
        for entry in entries:
            if self.stopping.is_set():
                return False
            try:
                await self.rt.handle_entry(entry, self.owner)
                self.attempts.pop(entry.id, None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.attempts[entry.id] += 1
                n = self.attempts[entry.id]
                log.exception(
                    "entry_failed",
                    partition=self.partition,
                    entry=entry.id,
                    attempt=n,
                    error=repr(exc),
                )
                if n < MAX_ATTEMPTS:
                    return False
                await self.rt.storage.queue.dead_letter(entry, repr(exc))
                self.attempts.pop(entry.id, None)
                self.rt.metrics.processed.labels("dead_letter").inc()
        return True


class Runtime:
    """Handles inbound entries of the partitions this process owns."""

    def __init__(
        self,
        storage: Storage,
        sender: OutboxSender,
        configs: ConfigCache,
        flow: Flow,
        metrics: Metrics,
        *,
        mark_read: bool = True,
        block_ms: int = 1000,
        clock: Callable[[], float] = time.time,
        owner: str = "engine",
        replies: ReplyLookup | None = None,
        record_facts: bool = True,
    ) -> None:
        self.owner = owner
        self.replies = replies
        self.storage = storage
        self.sender = sender
        self.configs = configs
        self.flow = flow
        self.metrics = metrics
        self.mark_read = mark_read
        self.block_ms = block_ms
        self.clock = clock
        self.record_facts = record_facts

    async def handle_entry(self, entry: QueueEntry, owner: str) -> None:
        msg = entry.message
        structlog.contextvars.bind_contextvars(
            number=msg.number, contact=mask_phone(msg.contact), message_id=msg.message_id
        )
        try:
            while True:
                attempt = await self._attempt(entry)
                if attempt is not None:
                    break
            done, config, unsent_before = attempt
            if unsent_before:
                # replies of earlier messages are still unsent (a previous owner of the
                # partition may be mid-send): send the conversation's backlog in order
                await self.sender.deliver_backlog(entry.partition, msg.number, msg.contact, owner)
            elif done:
                await self.sender.deliver(done, fresh=True, owner=owner, config=config)
            if msg.received_at:
                self.metrics.latency.observe(max(0.0, self.clock() - msg.received_at))
        finally:
            structlog.contextvars.unbind_contextvars("number", "contact", "message_id")

    async def _attempt(
        self, entry: QueueEntry
    ) -> tuple[list[OutboxEntry], NumberConfig | None, int] | None:
        """One load → flow → commit; None when the commit lost a version race."""
        msg, p = entry.message, entry.partition
        if self.replies is None or msg.type == "event":
            stored = await self.storage.conversations.load(p, msg.number, msg.contact)
            target = None
        else:  # both reads travel together (one pipeline on Redis)
            stored, target = await asyncio.gather(
                self.storage.conversations.load(p, msg.number, msg.contact), self.replies(msg)
            )
        if stored is not None and entry_order(stored.last_entry) >= entry_order(entry.id):
            await self.storage.queue.discard(entry)  # effects already saved
            self.metrics.processed.labels("already_done").inc()
            return [], None, 0
        config = await self.configs.get(msg.number)
        if config is None:
            log.warning("number_not_configured")
            await self.storage.queue.discard(entry)
            self.metrics.processed.labels("unknown_number").inc()
            return [], None, 0
        now = self.clock()
        conversation = stored or Conversation(
            number=msg.number, contact=msg.contact, first_seen=now
        )
        working = conversation.model_copy(deep=True)
        if msg.contact_name:
            working.contact_name = msg.contact_name
        if msg.type != "event":
            working.last_seen = now
            working.messages_in += 1
        turn = Turn(
            config,
            working,
            msg,
            datetime.fromtimestamp(now, UTC),
            previous_seen=conversation.last_seen,
            notification=target,
        )
        await self.flow.handle(turn)
        items = outbox_items(msg, turn.replies, mark_read=self.mark_read)
        try:
            result = await self.storage.conversations.commit(
                p, working, entry, items, turn.scheduled, self.turn_facts(turn, config)
            )
        except VersionConflict:
            log.info("commit_conflict_retry")
            return None
        self.metrics.processed.labels("ok").inc()
        return result.outbox, config, result.unsent_before

    def turn_facts(self, turn: Turn, config: NumberConfig) -> Facts | None:
        """The data facts of a turn: the contact's message received, and what the flow
        recorded (surveys). Saved with the turn's commit, so counted once."""
        if not self.record_facts:
            return None
        msg = turn.message
        found = Facts(msg.number)
        if msg.type not in data_facts.NOT_WRITTEN:
            at = turn.now.timestamp()
            found.extend(data_facts.message_received(msg.number, msg.contact, at, config.timezone))
        for more in turn.facts:
            found.extend(more)
        return found or None
