"""Drives one campaign while this process holds its lease (like a partition's).

A supervisor loop renews the lease, reads the campaign (a pause or a cancel from any
process stops the driver), puts back recipients a dead driver left in flight, moves
the state (scheduled → running, running ⇄ waiting_limit, → needs_attention,
→ completed) and keeps one task per sending number (lane), with two workers so that
the next chunk is claimed while one is being sent. A worker repeats: claim a chunk
(≈ a tenth of a second of sends, within the current batch), check the messaging limit
(``limits.py``: the gateway's tier or the configuration; contacts refused go back to the
front and the lane waits for the window, looking again every minute), reserve
rate slots (at most ``max_share`` of the number's rate, shared with the replies), send
each at its slot and record its result as soon as it returns. A scheduled campaign sends
only once the supervisor moved it to running; before that, and every few seconds while it
runs, the supervisor holds it when a sender is rated RED (``holds.py``); a code about the
number's account (368, 131031, 131042) holds every campaign of the number.

Exactly once: a recipient is claimed before its send and marked with the ``wamid``
after it. If the driver dies in between, its claim's deadline passes and the next
driver sends it again — the one window (accepted by Meta, not yet marked) where a
recipient can get the template twice, as for replies (docs/notifications.md).
A lane stopped mid-chunk finishes its in-flight sends and records them first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from flow_engine.domain.campaigns import ACTIVE_STATES, Campaign, CampaignState
from flow_engine.domain.notifications import ACCOUNT_CODES, Action, callback_data
from flow_engine.domain.templates import CatalogTemplate, resolve
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.metrics.registry import Metrics
from flow_engine.notify.facts import NotificationFacts
from flow_engine.notify.holds import Holds, red_reason
from flow_engine.notify.limits import MessagingLimits
from flow_engine.notify.sending import Outcome, TemplateSender
from flow_engine.storage.notifications import NotificationStore, Recipient, StatusChange

log = structlog.get_logger()

TICK_S = 0.25
#: a chunk holds about this many seconds of sends at the lane's rate
CHUNK_S = 0.1
CHUNK_MAX = 100
#: chunks of one lane in flight at once: the next is claimed while one is being sent
LANE_WORKERS = 2
RETRIES_MAX = 8
#: codes that mean the number's throughput: the whole lane backs off
THROUGHPUT_CODES = frozenset({130429, 131048, 80007, 4})
#: a lane waiting for the messaging limit's window looks again this often (a new tier)
LIMIT_RECHECK_S = 60.0
#: how often a running campaign checks that none of its senders turned bad meanwhile
STANDING_EVERY_S = 2.0


@dataclass
class DriverContext:
    store: NotificationStore
    configs: ConfigCache
    sender: TemplateSender
    metrics: Metrics
    owner: str
    lease_ttl_ms: int
    claim_ttl_s: float
    limits: MessagingLimits
    holds: Holds
    retry_base_s: float = 0.5
    retry_max_s: float = 30.0
    clock: Callable[[], float] = time.time
    #: the data facts of each send (R-DATA); None: not recorded
    facts: NotificationFacts | None = None


class CampaignDriver:
    def __init__(self, ctx: DriverContext, campaign_id: str) -> None:
        self.ctx = ctx
        self.id = campaign_id
        self.stopping = asyncio.Event()
        self.doc: Campaign | None = None
        self.lanes: dict[str, asyncio.Task[None]] = {}
        self.attempts: dict[int, int] = {}
        self.limit_until: dict[str, float] = {}
        self.backoff: dict[str, int] = {}
        self.pause_reason: str | None = None
        self.standing_due = 0.0  # (monotonic) when the senders' standing is read next

    @property
    def store(self) -> NotificationStore:
        return self.ctx.store

    async def run(self) -> None:
        try:
            await self._supervise()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("campaign_driver_failed", campaign=self.id)
        finally:
            self.stopping.set()
            await asyncio.gather(*self.lanes.values(), return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.store.release(self.id, self.ctx.owner)

    async def _supervise(self) -> None:
        ctx = self.ctx
        while not self.stopping.is_set():
            if not await self.store.acquire(self.id, ctx.owner, ctx.lease_ttl_ms):
                log.warning("campaign_lease_lost", campaign=self.id)
                return
            doc = await self.store.campaign(self.id)
            if doc is None or doc.state not in ACTIVE_STATES:
                return
            self.doc = doc
            now = ctx.clock()
            if await self.store.recover(self.id, now):
                log.info("campaign_recovered_claims", campaign=self.id)
            if self.pause_reason is not None:
                await self._enter(doc, CampaignState.NEEDS_ATTENTION, reason=self.pause_reason)
                return
            lanes = await self.store.lanes(self.id)
            busy = {k: v for k, v in lanes.items() if v["todo"] or v["inflight"]}
            running = [k for k, t in self.lanes.items() if not t.done()]
            if not busy and not running:
                await self._enter(doc, CampaignState.COMPLETED, finished_at=now, reason=None)
                log.info("campaign_completed", campaign=self.id)
                return
            waiting = [
                k for k, v in busy.items() if v["todo"] and self.limit_until.get(k, 0) > now
            ]
            todo = [k for k, v in busy.items() if v["todo"]]
            starting = False
            if doc.state == CampaignState.SCHEDULED:
                began = any(v["inflight"] for v in lanes.values()) or (
                    (await self.store.counts(self.id)).get("pending", 0) < doc.total
                )
                starting = began or bool(todo and min(lanes[k]["next_at"] for k in todo) <= now)
            if await self._held_for_quality(doc, list(busy), starting):
                return
            if starting:
                doc = await self._enter(doc, CampaignState.RUNNING, started_at=now) or doc
            elif doc.state == CampaignState.RUNNING and todo and len(waiting) == len(todo):
                until = min(self.limit_until[k] for k in waiting)
                reason = f"messaging limit reached; resumes by itself at {_iso(until)}"
                doc = await self._enter(doc, CampaignState.WAITING_LIMIT, reason=reason) or doc
            elif doc.state == CampaignState.WAITING_LIMIT and len(waiting) < len(todo):
                doc = await self._enter(doc, CampaignState.RUNNING, reason=None) or doc
            for lane in todo:
                task = self.lanes.get(lane)
                if task is None or task.done():
                    self.lanes[lane] = asyncio.create_task(self._lane(lane), name=f"lane-{lane}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), TICK_S)

    async def _held_for_quality(self, doc: Campaign, senders: list[str], starting: bool) -> bool:
        """Hold the campaign when one of its senders with work left is rated bad by a
        change that has not held it yet: before it starts, before the first send of a
        campaign made (or resumed) on a number already bad, and every few seconds while it
        runs (the health listener usually comes first)."""
        if doc.state == CampaignState.SCHEDULED and not starting:
            return False  # held when it would start: the number may recover before
        clock = asyncio.get_running_loop().time()
        if clock < self.standing_due and not starting:
            return False
        self.standing_due = clock + STANDING_EVERY_S
        bad = await self.ctx.holds.red_marks(doc, senders)
        if not bad:
            return False
        allowed = {s.value for s in ACTIVE_STATES}
        reason = red_reason(doc, list(bad))
        done = await self.store.transition(
            self.id,
            allowed,
            CampaignState.NEEDS_ATTENTION.value,
            {"reason": reason},
            marks=list(bad.values()),
        )
        if done is None:
            return False  # changed meanwhile (paused, cancelled): the next turn reads it
        self.doc = done
        log.info("campaign_state", campaign=self.id, state=done.state.value, reason=reason)
        return True

    async def _enter(self, doc: Campaign, state: CampaignState, **fields: Any) -> Campaign | None:
        allowed = {s.value for s in ACTIVE_STATES}
        done = await self.store.transition(self.id, allowed, state.value, fields)
        if done is not None:
            self.doc = done
            log.info("campaign_state", campaign=self.id, state=state.value)
        return done

    async def _lane(self, lane: str) -> None:
        await asyncio.gather(*(self._lane_worker(lane) for _ in range(LANE_WORKERS)))

    async def _lane_worker(self, lane: str) -> None:
        try:
            while not self.stopping.is_set() and self.pause_reason is None:
                if not await self._step(lane):
                    return
        except Exception:
            log.exception("campaign_lane_failed", campaign=self.id, lane=lane)
            await asyncio.sleep(TICK_S)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), max(0.0, seconds))

    async def _step(self, lane: str) -> bool:
        """One chunk of the lane; False when the lane has nothing left to take."""
        doc, ctx = self.doc, self.ctx
        # a scheduled campaign sends once its driver moved it to running (the start checks)
        if doc is None or doc.state not in (CampaignState.RUNNING, CampaignState.WAITING_LIMIT):
            await self._pause(TICK_S)
            return True
        config = await ctx.configs.get(lane)
        rate = ctx.sender.rate_of(config)
        share = config.notifications.max_share if config is not None else 0.8
        lane_rate = rate * share
        if doc.per_second:
            lane_rate = min(lane_rate, doc.per_second)
        if doc.interval_s:
            lane_rate = min(lane_rate, 1.0 / doc.interval_s)
        n = max(1, min(CHUNK_MAX, int(lane_rate * CHUNK_S)))
        now = ctx.clock()
        claimed = await self.store.claim_recipients(
            self.id,
            lane,
            n,
            now,
            now + ctx.claim_ttl_s,
            doc.batch_size,
            (doc.batch_interval_min or 0.0) * 60,
        )
        if claimed.wait_until is not None:
            await self._pause(min(claimed.wait_until - now, TICK_S))
            return True
        if not claimed.recipients:
            lanes = await self.store.lanes(self.id)
            return bool(lanes.get(lane, {}).get("todo"))
        recipients = claimed.recipients
        limit = (await ctx.limits.of(config)).contacts if config is not None else None
        allowed, frees = await self.store.reach(lane, [r.phone for r in recipients], limit, now)
        refused = [r for r, ok in zip(recipients, allowed, strict=True) if not ok]
        going = [r for r, ok in zip(recipients, allowed, strict=True) if ok]
        if refused:
            await self.store.requeue(self.id, lane, refused, front=True)
            until = frees if frees is not None else now + LIMIT_RECHECK_S
            # looked at again within a minute: a tier raised meanwhile applies then
            await self.store.set_lane(self.id, lane, min(until, now + LIMIT_RECHECK_S))
            if lane not in self.limit_until:
                ctx.metrics.notifications_sent.labels("campaign", "limited").inc(len(refused))
                log.info("campaign_waiting_limit", campaign=self.id, lane=lane, until=until)
            self.limit_until[lane] = until
        else:
            self.limit_until.pop(lane, None)
        if not going:
            return True
        await self.store.remember(lane, {r.phone: f"c:{self.id}:{r.index}" for r in going}, now)
        wait = await self.store.reserve(lane, rate, lane_rate / rate, len(going))
        template = doc.templates[lane]
        loop = asyncio.get_running_loop()
        first = loop.time() + wait
        spacing = 1.0 / lane_rate
        results = await asyncio.gather(
            *(self._send(doc, template, r, first + i * spacing) for i, r in enumerate(going))
        )
        await self._record(doc, lane, going, list(results))
        return True

    async def _send(
        self, doc: Campaign, template: CatalogTemplate, r: Recipient, at: float
    ) -> tuple[Outcome, bool]:
        """Send at ``at`` and record a final result (sent, or failed for good) at once, so a
        death of this process leaves at most the sends in flight unmarked. Returns the
        outcome and whether it was recorded."""
        delay = at - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)
        parameters = resolve(doc.parameters, doc.row_of(r.values)) if doc.parameters else None
        message = self.ctx.sender.message(
            template, parameters, callback_data("c", self.id, str(r.index))
        )
        outcome = await self.ctx.sender.send(r.sender, r.phone, message)
        change = self._final(r, outcome)
        if change is None:
            return outcome, False
        metrics = self.ctx.metrics
        if self.ctx.facts is not None:  # before the record: see notify/facts.py
            await self.ctx.facts.sent(
                change.ref,
                r.sender,
                r.phone,
                doc.template.name,
                change.at,
                ok=change.status == "sent",
            )
        moved = await self.store.finish(self.id, [(r, change)], keep_values=doc.reply is not None)
        for t in moved:
            metrics.notification_statuses.labels("campaign", t.after).inc()
        metrics.notifications_sent.labels("campaign", change.status).inc()
        return outcome, True

    def _final(self, r: Recipient, o: Outcome) -> StatusChange | None:
        """The recipient's final result, or None when it is sent again (or paused)."""
        ref = f"c:{self.id}:{r.index}"
        if o.ok:
            self.attempts.pop(r.index, None)
            return StatusChange(ref, "sent", self.ctx.clock(), wamid=o.wamid or "")
        tries = self.attempts.get(r.index, 0) + 1
        self.attempts[r.index] = tries
        if o.action == Action.PAUSE or (o.action == Action.RETRY and tries < RETRIES_MAX):
            return None
        self.attempts.pop(r.index, None)
        return StatusChange(ref, "failed", self.ctx.clock(), code=o.code, title=o.title)

    async def _record(
        self, doc: Campaign, lane: str, going: list[Recipient], results: list[tuple[Outcome, bool]]
    ) -> None:
        """After a chunk: what was neither sent nor failed goes back to the lane (the front,
        or the end for a pair-rate limit); a throughput error makes the lane back off; a
        code that puts the number at risk pauses the campaign."""
        ctx = self.ctx
        front: list[Recipient] = []
        back: list[Recipient] = []
        throttled = False
        account: Outcome | None = None
        for r, (o, recorded) in zip(going, results, strict=True):
            if recorded:
                continue
            if o.action == Action.PAUSE:
                front.append(r)
                self.pause_reason = f"gateway error {o.code}: {o.title}"
                account = o if o.code in ACCOUNT_CODES else account
                ctx.metrics.notifications_sent.labels("campaign", "paused").inc()
            else:
                (back if o.code == 131056 else front).append(r)
                throttled = throttled or o.code in THROUGHPUT_CODES or o.code is None
                ctx.metrics.notifications_sent.labels("campaign", "retried").inc()
        if front:
            await self.store.requeue(self.id, lane, front, front=True)
        if back:
            await self.store.requeue(self.id, lane, back, front=False)
        if account is not None:
            await self._hold_number(lane, account)
        if throttled:
            k = self.backoff.get(lane, 0)
            self.backoff[lane] = k + 1
            hint = max((o.retry_after or 0.0) for o, _r in results)
            delay = max(hint, min(ctx.retry_max_s, ctx.retry_base_s * 2**k))
            await self.store.set_lane(self.id, lane, ctx.clock() + delay)
            log.info("campaign_backoff", campaign=self.id, lane=lane, delay_s=round(delay, 2))
        else:
            self.backoff.pop(lane, None)

    async def _hold_number(self, lane: str, o: Outcome) -> None:
        """A code about the number's account: every other campaign of the number stops too
        (this one stops by its ``pause_reason``)."""
        reason = f"gateway error {o.code} on number {lane} (met by campaign {self.id}): {o.title}"
        held = await self.ctx.holds.hold_number(lane, reason, unless=self.id)
        log.warning("campaigns_held", number=lane, cause=o.code, campaigns=[self.id, *held])


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
