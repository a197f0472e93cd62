"""The runtime: per partition, read the inbound queue and handle each conversation's
messages one at a time, in order — and each conversation on its own.

A partition is owned by one process at a time (``partitions.py``). Its worker reads the
queue and hands each entry to the *lane* of its conversation (number, contact): a task
that handles that conversation's entries in order — lock (the partition lease) → load →
run the flow → commit (version-checked save + outbox + queue ack, atomic) — and sends the
replies a commit left in the outbox before it handles the conversation's next entry.

Lanes run concurrently and never wait for each other. A reply whose retry is scheduled
(the pair rate limit 131056 asks for 1, 4, 16 s) keeps its own conversation waiting, in
order — a later reply never overtakes it — and no other; so does a message whose
number's configuration the store lost, until it is back. A crash anywhere leaves the
entry in the queue or its replies in the outbox (with their retry due times), and the
next owner finishes the work.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
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
from flow_engine.engine.config_cache import ConfigCache, ConfigurationMissing
from flow_engine.engine.flow import Flow, Turn
from flow_engine.engine.outbox import OutboxSender
from flow_engine.engine.pacing import Pacing
from flow_engine.errors import VersionConflict
from flow_engine.logging import LogThrottle, mask_phone
from flow_engine.metrics.registry import Metrics
from flow_engine.storage.base import Storage
from flow_engine.storage.outbox import OutboxEntry, OutboxItem
from flow_engine.storage.queue import QueueEntry, entry_order
from flow_engine.storage.rollups import FOLD_BATCH

log = structlog.get_logger()

MAX_ATTEMPTS = 5
RELEASE_EVERY_S = 0.5
#: the fact stream of a partition is folded into the rollups at most this often while
#: messages flow, and at least this often when idle (facts of a previous owner)
FOLD_EVERY_S = 1.0
FOLD_IDLE_S = 5.0
FOLD_ROUNDS = 20
BATCH = 200
#: Inbound entries a worker holds in its lanes at most before it reads more.
MAX_HELD = 2000
#: Backoff after a failure: 50 ms, 100 ms, … up to 1 s (a store outage, a flow's bug).
BACKOFF_S = 0.05
BACKOFF_MAX_S = 1.0
#: How often a message waiting for its number's lost configuration looks again.
CONFIG_WAIT_S = 0.5
READ_TYPES_SKIPPED = frozenset({"system", "reaction", "unsupported"})
#: How long a stopping worker waits for a cancelled read or lane to end.
STOP_WAIT_S = 5.0

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


def backoff(failures: int) -> float:
    return min(BACKOFF_MAX_S, BACKOFF_S * 2.0 ** max(0, failures - 1))


@dataclass
class Handled:
    """What handling one inbound entry left to send."""

    outbox: list[OutboxEntry] = field(default_factory=list)
    config: NumberConfig | None = None
    #: the conversation's outbox may hold entries this worker does not know (a previous
    #: owner's, or a commit whose answer was lost): read them from the store
    resync: bool = False


@dataclass
class Lane:
    """One conversation's work in a partition: inbound entries to handle, then the
    replies to send, each in order. ``outbox`` pairs an entry with whether it is fresh
    (just committed, never tried)."""

    number: str
    contact: str
    inbox: deque[QueueEntry] = field(default_factory=deque)
    outbox: deque[tuple[OutboxEntry, bool]] = field(default_factory=deque)
    config: NumberConfig | None = None
    received_at: float | None = None  # of the message whose replies are being sent
    resync: bool = False
    failures: int = 0  # of the step at the head (handling or sending)
    task: asyncio.Task[None] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.number, self.contact)

    def merge(self, entries: list[OutboxEntry]) -> None:
        """Add the outbox entries of the store this lane does not hold, in outbox order."""
        held = {e.id for e, _fresh in self.outbox}
        merged = [*self.outbox, *((e, False) for e in entries if e.id not in held)]
        merged.sort(key=lambda pair: entry_order(pair[0].id))
        self.outbox = deque(merged)


class PartitionWorker:
    """Handles one owned partition until told to stop."""

    def __init__(self, runtime: Runtime, partition: int) -> None:
        self.rt = runtime
        self.partition = partition
        self.stopping = asyncio.Event()
        # this worker's own identity for send claims: a worker that lost its partition and
        # the one that took it over never both send, even inside one process
        self.owner = f"{runtime.owner}:{partition}:{uuid.uuid4().hex[:8]}"
        self.lanes: dict[tuple[str, str], Lane] = {}
        self.held = 0  # inbound entries in the lanes
        self._room = asyncio.Event()
        self.next_fold = 0.0  # monotonic time of the next fold of the partition's facts

    async def run(self) -> None:
        # one waiter for the worker's life, shared by every wait (not one per wait)
        self._stop_wait = asyncio.ensure_future(self.stopping.wait())
        try:
            await self._run()
            # told to stop: each lane finishes the step it is in (the partition manager
            # cancels the worker when that takes longer than a lease)
            await asyncio.gather(*self._tasks(), return_exceptions=True)
        finally:
            self._stop_wait.cancel()
            tasks = self._tasks()
            for task in tasks:
                task.cancel()
            if tasks:  # each also stops at its next step (a cancellation can get lost)
                await asyncio.wait(tasks, timeout=STOP_WAIT_S)

    def _tasks(self) -> list[asyncio.Task[None]]:
        return [lane.task for lane in self.lanes.values() if lane.task is not None]

    async def _run(self) -> None:
        rt, p = self.rt, self.partition
        failures = 0
        while not self.stopping.is_set():
            try:
                await self.recover_outbox()
                break
            except Exception as exc:
                failures += 1
                self.rt.report(exc, "outbox_recovery", partition=p)
                await self.pause(backoff(failures))
        cursor = "0-0"
        next_release = 0.0
        while not self.stopping.is_set():
            if time.monotonic() >= self.next_fold:
                await self.fold_facts()
            if self.held >= MAX_HELD:
                self._room.clear()
                await self._wait(self._room.wait(), RELEASE_EVERY_S)
                continue
            try:
                if time.monotonic() >= next_release:  # timers due: into the queue, in order
                    await rt.storage.queue.release_due(p, rt.clock())
                    next_release = time.monotonic() + RELEASE_EVERY_S
                entries = await self.read(cursor)
            except Exception as exc:
                failures += 1
                self.rt.report(exc, "queue_read", partition=p)
                await self.pause(backoff(failures))
                continue
            failures = 0
            for e in entries:
                self.lane(e.message.number, e.message.contact).inbox.append(e)
            self.held += len(entries)
            if entries:
                # facts of this batch: folded soon, not per message
                self.next_fold = min(self.next_fold, time.monotonic() + FOLD_EVERY_S)
                cursor = entries[-1].id

    def lane(self, number: str, contact: str) -> Lane:
        """The lane of a conversation, started if it was not running."""
        lane = self.lanes.get((number, contact))
        if lane is None:
            lane = Lane(number, contact)
            self.lanes[lane.key] = lane
            lane.task = asyncio.create_task(self._run_lane(lane), name=f"lane-{self.partition}")
        return lane

    async def fold_facts(self) -> None:
        """Fold the partition's data facts into the rollups (R-DATA); a failure leaves
        them in the stream for the next try."""
        self.next_fold = time.monotonic() + FOLD_IDLE_S
        try:
            for _ in range(FOLD_ROUNDS):  # bounded: the worker must see a stop soon
                # a batch short of the limit emptied the stream (facts written since then
                # are the next fold's): no second read to learn that it is empty
                if (
                    self.stopping.is_set()
                    or await self.rt.storage.rollups.fold(self.partition, FOLD_BATCH) < FOLD_BATCH
                ):
                    break
            else:
                self.next_fold = time.monotonic()  # more waiting: go on at the next turn
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.rt.report(exc, "facts_fold", partition=self.partition)
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
                await asyncio.wait({read}, timeout=STOP_WAIT_S)
        if not read.done() or read.cancelled():
            return []
        return read.result()

    async def _wait(self, aw: Coroutine[object, object, object], seconds: float) -> None:
        waiter = asyncio.ensure_future(aw)
        try:
            await asyncio.wait({waiter, self._stop_wait}, timeout=seconds)
        finally:
            waiter.cancel()

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the worker is told to stop."""
        if seconds > 0:
            await asyncio.wait({self._stop_wait}, timeout=seconds)

    async def recover_outbox(self) -> None:
        """Give each conversation with unsent replies (a previous owner's) a lane."""
        pending = await self.rt.storage.outbox.pending(self.partition)
        if not pending:
            return
        log.info("outbox_recovery", partition=self.partition, entries=len(pending))
        for e in pending:
            self.lane(e.item.number, e.item.contact).outbox.append((e, False))

    # ------------------------------------------------------------------ a lane
    async def _run_lane(self, lane: Lane) -> None:
        try:
            while not self.stopping.is_set():
                if lane.resync:
                    await self._step(lane, self._resync(lane))
                elif lane.outbox:
                    await self._step(lane, self._send_next(lane))
                elif lane.inbox:
                    await self._step(lane, self._handle_next(lane))
                else:
                    return
        finally:
            if self.lanes.get(lane.key) is lane:
                del self.lanes[lane.key]
                self.held -= len(lane.inbox)

    async def _step(self, lane: Lane, step: Awaitable[None]) -> None:
        """Run one step of a lane; a failure (a store that cannot be reached) only delays
        it: the lane holds the conversation's entries until they are done with."""
        try:
            await step
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            lane.failures += 1
            self.rt.report(exc, "conversation", partition=self.partition)
            await self.pause(backoff(lane.failures))

    async def _resync(self, lane: Lane) -> None:
        lane.merge(await self.rt.sender.backlog(self.partition, lane.number, lane.contact))
        lane.resync = False

    async def _send_next(self, lane: Lane) -> None:
        entry, fresh = lane.outbox[0]
        wait = entry.due - self.rt.sender.clock()
        if wait > 0:  # a scheduled retry: only this conversation waits for it
            await self.pause(wait)
            return
        try:
            retry = await self.rt.sender.attempt(
                entry, self.owner, fresh=fresh, config=lane.config
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.rt.storage.is_unavailable(exc):
                raise
            lane.failures += 1  # not the store, not the gateway: this entry cannot be sent
            log.exception("send_error", partition=self.partition, key=entry.item.key)
            if lane.failures < MAX_ATTEMPTS:
                await self.pause(backoff(lane.failures))
                return
            await self.rt.sender.give_up(entry, repr(exc)[:500])
            retry = None
        lane.failures = 0
        if retry is not None:
            lane.outbox[0] = (retry, False)
            return
        lane.outbox.popleft()
        if not lane.outbox:
            self._observe(lane)

    async def _handle_next(self, lane: Lane) -> None:
        entry = lane.inbox[0]
        try:
            handled = await self.rt.handle(entry, self.owner)
        except ConfigurationMissing as exc:
            self.rt.report_missing(exc.number)
            await self.pause(CONFIG_WAIT_S)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.rt.storage.is_unavailable(exc):
                raise
            lane.failures += 1
            log.exception(
                "entry_failed",
                partition=self.partition,
                entry=entry.id,
                attempt=lane.failures,
                error=repr(exc),
            )
            if lane.failures < MAX_ATTEMPTS:
                await self.pause(backoff(lane.failures))
                return
            await self.rt.storage.queue.dead_letter(entry, repr(exc))
            self.rt.metrics.processed.labels("dead_letter").inc()
            handled = Handled()
        lane.failures = 0
        lane.inbox.popleft()
        self.held -= 1
        if self.held < MAX_HELD:
            self._room.set()
        lane.outbox.extend((e, True) for e in handled.outbox)
        lane.config = handled.config
        lane.received_at = entry.message.received_at
        lane.resync = handled.resync
        if not lane.outbox and not lane.resync:
            self._observe(lane)

    def _observe(self, lane: Lane) -> None:
        """The replies of a message all went out: webhook receipt → last reply accepted."""
        if lane.received_at:
            self.rt.metrics.latency.observe(max(0.0, self.rt.clock() - lane.received_at))
        lane.received_at = None


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
        pacing: Pacing | None = None,
    ) -> None:
        self.owner = owner
        self.replies = replies
        self.pacing = pacing or Pacing(limit=64)
        self.storage = storage
        self.sender = sender
        self.configs = configs
        self.flow = flow
        self.metrics = metrics
        self.mark_read = mark_read
        self.block_ms = block_ms
        self.clock = clock
        self.record_facts = record_facts
        self.throttle = LogThrottle()

    def report(self, exc: BaseException, where: str, **fields: object) -> None:
        """Log a failure of a worker's step: a store outage as one line per kind per
        interval (it fails every step of every worker), anything else in full."""
        if not self.storage.is_unavailable(exc):
            log.error("worker_step_failed", where=where, error=repr(exc), exc_info=exc, **fields)
            return
        left_out = self.throttle.allow(("store_unavailable", where, type(exc).__name__))
        if left_out is not None:
            log.warning(
                "store_unavailable",
                where=where,
                kind=type(exc).__name__,
                error=str(exc)[:200],
                left_out=left_out,
                **fields,
            )

    def report_missing(self, number: str) -> None:
        if self.throttle.allow(("configuration_missing", number)) is not None:
            log.warning("configuration_missing_waiting", number=number)

    async def handle_entry(self, entry: QueueEntry, owner: str) -> None:
        """Handle one entry and send its replies here, waiting for retries (for callers
        without a partition worker: the local chat and test tools)."""
        handled = await self.handle(entry, owner)
        msg = entry.message
        if handled.resync:
            await self.sender.deliver_backlog(entry.partition, msg.number, msg.contact, owner)
        elif handled.outbox:
            await self.sender.deliver(
                handled.outbox, fresh=True, owner=owner, config=handled.config
            )
        if msg.received_at:
            self.metrics.latency.observe(max(0.0, self.clock() - msg.received_at))

    async def handle(self, entry: QueueEntry, owner: str | None = None) -> Handled:
        """Load → flow → commit one entry (again after a lost version race); what it left
        to send. With ``owner`` (the partition worker that sends them), the commit also
        takes the replies' send claims. :class:`ConfigurationMissing` when its number's
        configuration was lost."""
        msg = entry.message
        structlog.contextvars.bind_contextvars(
            number=msg.number, contact=mask_phone(msg.contact), message_id=msg.message_id
        )
        try:
            async with self.pacing.turn():  # webhook acks first; a bounded number at once
                while True:
                    handled = await self._attempt(entry, owner)
                    if handled is not None:
                        return handled
        finally:
            structlog.contextvars.unbind_contextvars("number", "contact", "message_id")

    async def _attempt(self, entry: QueueEntry, owner: str | None) -> Handled | None:
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
            # its replies may still be in the outbox (the commit's answer was lost)
            return Handled(resync=True)
        config = await self.configs.require(msg.number)
        if config is None:
            log.warning("number_not_configured")
            await self.storage.queue.discard(entry)
            self.metrics.processed.labels("unknown_number").inc()
            return Handled()
        now = self.clock()
        conversation = stored or Conversation(
            number=msg.number, contact=msg.contact, first_seen=now
        )
        previous_seen = conversation.last_seen
        # a loaded record is this turn's own object (every load reads it afresh): the flow
        # changes it in place, and a lost version race loads it again
        working = conversation
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
            previous_seen=previous_seen,
            notification=target,
        )
        await self.flow.handle(turn)
        items = outbox_items(msg, turn.replies, mark_read=self.mark_read)
        try:
            result = await self.storage.conversations.commit(
                p,
                working,
                entry,
                items,
                turn.scheduled,
                self.turn_facts(turn, config),
                claim=self.sender.commit_claim(owner) if owner else None,
            )
        except VersionConflict:
            log.info("commit_conflict_retry")
            return None
        self.metrics.processed.labels("ok").inc()
        # replies of earlier messages still unsent (a previous owner of the partition may
        # be mid-send): the conversation's whole backlog goes, in order
        return Handled(result.outbox, config, resync=result.unsent_before > 0)

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
