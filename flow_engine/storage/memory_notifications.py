"""Notifications and campaigns in this process, stored as JSON / encoded records like
Redis (so serialization bugs show in the contract tests). Each method runs without an
await in the middle, which makes it atomic within the process."""

from __future__ import annotations

import builtins
import json
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from flow_engine.domain.campaigns import Campaign, CampaignState, held_by_after
from flow_engine.domain.notifications import (
    LIMIT_WINDOW_S,
    REPLY_WINDOW_S,
    Notification,
    NotificationError,
    NotificationStatus,
    advance,
)
from flow_engine.domain.templates import CatalogTemplate
from flow_engine.storage.notifications import (
    LIST_LIMIT_MAX,
    Claimed,
    NotificationStore,
    Recipient,
    ReplyRef,
    StatusChange,
    Transition,
    apply_to,
)

if TYPE_CHECKING:
    from flow_engine.storage.memory_backend import MemoryBackend


@dataclass
class _Lane:
    todo: deque[int] = field(default_factory=deque)
    next_at: float = 0.0
    left: int | None = None


@dataclass
class _Campaign:
    doc: str
    records: dict[int, str] = field(default_factory=dict)
    lanes: dict[str, _Lane] = field(default_factory=dict)
    inflight: dict[int, tuple[str, float]] = field(default_factory=dict)  # index -> lane, deadline
    counts: dict[str, int] = field(default_factory=dict)
    titles: dict[int, str] = field(default_factory=dict)
    lease: tuple[str, float] | None = None


@dataclass
class _State:
    catalogs: dict[str, str] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)  # notification id -> JSON
    idem: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    claims: dict[str, tuple[str, float]] = field(default_factory=dict)
    due: dict[str, float] = field(default_factory=dict)
    replies: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    reached: dict[str, dict[str, float]] = field(default_factory=dict)
    lane_tat: dict[str, float] = field(default_factory=dict)
    campaigns: dict[str, _Campaign] = field(default_factory=dict)
    creating: dict[str, dict[str, list[tuple[int, str]]]] = field(default_factory=dict)


_STATES: weakref.WeakKeyDictionary[MemoryBackend, _State] = weakref.WeakKeyDictionary()
IDEMPOTENCY_TTL_S = 24 * 3600


class MemoryNotifications(NotificationStore):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b
        self.s = _STATES.setdefault(b, _State())

    # ------------------------------------------------------------------- catalog
    async def save_catalog(
        self, number: str, templates: list[CatalogTemplate], synced_at: float
    ) -> None:
        self.s.catalogs[number] = json.dumps(
            {"at": synced_at, "templates": [t.model_dump() for t in templates]}
        )

    async def catalog(self, number: str) -> tuple[list[CatalogTemplate], float | None]:
        raw = self.s.catalogs.get(number)
        if raw is None:
            return [], None
        doc = json.loads(raw)
        return [CatalogTemplate.model_validate(t) for t in doc["templates"]], float(doc["at"])

    # ------------------------------------------------------- individual notifications
    def _load(self, notification_id: str) -> Notification | None:
        raw = self.s.docs.get(notification_id)
        return None if raw is None else Notification.model_validate_json(raw)

    async def create(
        self, notification: Notification, idempotency_key: str | None, due: float
    ) -> tuple[Notification, bool]:
        now = time.time()
        if idempotency_key is not None:
            held = self.s.idem.get((notification.number, idempotency_key))
            if held is not None and held[1] > now:
                stored = self._load(held[0])
                if stored is not None:
                    return stored, False
            self.s.idem[(notification.number, idempotency_key)] = (
                notification.id,
                now + IDEMPOTENCY_TTL_S,
            )
        self.s.docs[notification.id] = notification.model_dump_json()
        self.s.due[notification.id] = due
        return notification, True

    async def get(self, notification_id: str) -> Notification | None:
        return self._load(notification_id)

    async def list(
        self,
        number: str,
        *,
        status: str | None = None,
        template: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Notification]:
        limit = max(0, min(limit, LIST_LIMIT_MAX))
        found = [
            n
            for n in (Notification.model_validate_json(r) for r in self.s.docs.values())
            if n.number == number
            and (status is None or n.status.value == status)
            and (template is None or n.template.name == template)
            and (since is None or n.created_at >= since)
            and (until is None or n.created_at <= until)
        ]
        found.sort(key=lambda n: (n.created_at, n.id), reverse=True)
        return found[max(0, offset) : max(0, offset) + limit]

    async def claim(self, notification_id: str, owner: str, ttl_ms: int) -> bool:
        current = self._load(notification_id)
        if current is None or current.status != NotificationStatus.PENDING or current.wamid:
            return False
        now = time.monotonic()
        holder = self.s.claims.get(notification_id)
        if holder is not None and holder[1] > now and holder[0] != owner:
            return False
        self.s.claims[notification_id] = (owner, now + ttl_ms / 1000)
        return True

    async def settle(
        self, notification_id: str, fields: dict[str, Any], due: float | None
    ) -> Notification | None:
        current = self._load(notification_id)
        if current is None:
            return None
        doc = current.model_dump(mode="json")
        status = fields.pop("status", None)
        doc.update({k: v for k, v in fields.items() if doc.get(k) is None or k == "attempts"})
        if status is not None:
            doc.update(advance(doc, status, float(fields.get("at") or time.time())) or {})
        doc.pop("at", None)
        saved = Notification.model_validate(doc)
        self.s.docs[notification_id] = saved.model_dump_json()
        self.s.claims.pop(notification_id, None)
        if due is None:
            self.s.due.pop(notification_id, None)
        else:
            self.s.due[notification_id] = due
        return saved

    async def due(self, now: float, limit: int = 50) -> builtins.list[str]:
        ready = sorted((d, i) for i, d in self.s.due.items() if d <= now)
        return [i for _d, i in ready[:limit]]

    # ----------------------------------------------------------------- statuses
    async def apply(self, changes: Sequence[StatusChange]) -> builtins.list[Transition]:
        out: builtins.list[Transition] = []
        for change in changes:
            kind, _, rest = change.ref.partition(":")
            if kind == "n":
                moved = self._apply_notification(rest, change)
            elif kind == "c":
                campaign_id, _, index = rest.partition(":")
                moved = self._apply_recipient(campaign_id, int(index or -1), change, True)
            else:
                moved = None
            if moved is not None:
                out.append(Transition(change.ref, *moved))
        return out

    def _apply_notification(self, nid: str, change: StatusChange) -> tuple[str, str] | None:
        current = self._load(nid)
        if current is None:
            return None
        doc = current.model_dump(mode="json")
        error = None
        if change.status == "failed":
            error = NotificationError(code=change.code, title=change.title)
        changed = advance(doc, change.status, change.at, error)
        if change.wamid and not doc.get("wamid"):
            changed = {**(changed or {}), "wamid": change.wamid}
        if not changed:
            return None
        doc.update(changed)
        self.s.docs[nid] = Notification.model_validate(doc).model_dump_json()
        if "status" in changed:
            if changed["status"] != "pending":
                self.s.due.pop(nid, None)
            return current.status.value, str(changed["status"])
        return None

    def _apply_recipient(
        self, campaign_id: str, index: int, change: StatusChange, keep_values: bool
    ) -> tuple[str, str] | None:
        c = self.s.campaigns.get(campaign_id)
        raw = None if c is None else c.records.get(index)
        if c is None or raw is None:
            return None
        before = Recipient.decode(index, raw)
        after = apply_to(
            before,
            change.status,
            change.at,
            wamid=change.wamid,
            code=change.code,
            replied_by=change.replied_by,
            keep_values=keep_values,
        )
        if change.status == "failed" and change.code is not None and change.title:
            c.titles.setdefault(change.code, change.title)
        c.records[index] = after.encode()
        if after.status != before.status:
            c.counts[before.status] -= 1
            c.counts[after.status] = c.counts.get(after.status, 0) + 1
            return before.status, after.status
        return None

    # ---------------------------------------------------------------- replies
    async def remember(self, number: str, contacts: dict[str, str], at: float) -> None:
        for contact, ref in contacts.items():
            self.s.replies[(number, contact)] = (ref, at)

    async def reply_ref(self, number: str, contact: str, now: float) -> ReplyRef | None:
        held = self.s.replies.get((number, contact))
        if held is None or held[1] + REPLY_WINDOW_S < now:
            return None
        return ReplyRef(held[0], held[1])

    async def mark_replied(self, ref: str, message_id: str, at: float) -> bool:
        kind, _, rest = ref.partition(":")
        if kind == "n":
            current = self._load(rest)
            if current is None:
                return False
            if current.status == NotificationStatus.REPLIED:
                return current.replied_by == message_id
            changed = advance(current.model_dump(mode="json"), "replied", at)
            if not changed or "status" not in changed:
                return False
            doc = {**current.model_dump(mode="json"), **changed, "replied_by": message_id}
            self.s.docs[rest] = Notification.model_validate(doc).model_dump_json()
            return True
        campaign_id, _, index = rest.partition(":")
        c = self.s.campaigns.get(campaign_id)
        raw = None if c is None else c.records.get(int(index or -1))
        if c is None or raw is None:
            return False
        rec = Recipient.decode(int(index), raw)
        if rec.status == "replied":
            return rec.replied_by == message_id
        change = StatusChange(ref, "replied", at, replied_by=message_id)
        return self._apply_recipient(campaign_id, int(index), change, True) is not None

    # --------------------------------------------------------------- sending limits
    async def reach(
        self, number: str, contacts: builtins.list[str], limit: int | None, now: float
    ) -> tuple[builtins.list[bool], float | None]:
        if limit is None:
            return [True] * len(contacts), None
        window = self.s.reached.setdefault(number, {})
        for contact in [c for c, at in window.items() if at <= now - LIMIT_WINDOW_S]:
            del window[contact]
        allowed: builtins.list[bool] = []
        for contact in contacts:
            if contact in window or len(window) < limit:
                window[contact] = now
                allowed.append(True)
            else:
                allowed.append(False)
        frees = None if all(allowed) else min(window.values()) + LIMIT_WINDOW_S
        return allowed, frees

    async def reserve(self, number: str, per_second: float, share: float, n: int) -> float:
        now = time.monotonic()
        lane_rate = per_second * share
        waits = []
        for rates, key, rate in (
            (self.s.lane_tat, number, lane_rate),
            (self.b.rate_tat, number, per_second),
        ):
            interval = 1.0 / rate
            burst = max(1.0, rate) * interval
            tat = max(rates.get(key, now), now)
            rates[key] = tat + n * interval
            waits.append(max(0.0, tat + interval - burst - now))
        return max(waits)

    # --------------------------------------------------------------- campaigns
    async def add_recipients(
        self, campaign_id: str, lane: str, chunk: builtins.list[Recipient]
    ) -> None:
        lanes = self.s.creating.setdefault(campaign_id, {})
        lanes.setdefault(lane, []).extend((r.index, r.encode()) for r in chunk)

    async def create_campaign(self, campaign: Campaign, lanes: dict[str, float]) -> None:
        written = self.s.creating.pop(campaign.id, {})
        c = _Campaign(doc=campaign.model_dump_json())
        for lane, start in lanes.items():
            c.lanes[lane] = _Lane(next_at=start)
        for lane, records in written.items():
            for index, raw in records:
                c.records[index] = raw
                c.lanes.setdefault(lane, _Lane()).todo.append(index)
        c.counts = {"total": len(c.records), "pending": len(c.records)}
        self.s.campaigns[campaign.id] = c

    def _doc(self, c: _Campaign) -> Campaign:
        return Campaign.model_validate_json(c.doc)

    async def campaign(self, campaign_id: str) -> Campaign | None:
        c = self.s.campaigns.get(campaign_id)
        return None if c is None else self._doc(c)

    async def campaigns(
        self,
        *,
        number: str | None = None,
        state: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Campaign]:
        limit = max(0, min(limit, LIST_LIMIT_MAX))
        found = [
            d
            for d in (self._doc(c) for c in self.s.campaigns.values())
            if (number is None or number in d.senders) and (state is None or d.state == state)
        ]
        found.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return found[max(0, offset) : max(0, offset) + limit]

    async def active(self) -> builtins.list[str]:
        return [
            i
            for i, c in self.s.campaigns.items()
            if self._doc(c).state
            in (CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.WAITING_LIMIT)
        ]

    async def transition(
        self,
        campaign_id: str,
        allowed: set[str],
        state: str,
        fields: dict[str, Any],
        *,
        marks: Sequence[str] = (),
    ) -> Campaign | None:
        c = self.s.campaigns.get(campaign_id)
        if c is None:
            return None
        doc = self._doc(c)
        if doc.state.value not in allowed:
            return None
        held_by = held_by_after(doc.held_by, list(marks))
        if held_by is None:
            return None
        update = {**fields, "state": CampaignState(state), "held_by": held_by}
        updated = doc.model_copy(update=update)
        c.doc = Campaign.model_validate(updated.model_dump()).model_dump_json()
        if state == CampaignState.CANCELLED:
            left = sum(len(lane.todo) for lane in c.lanes.values())
            for lane in c.lanes.values():
                lane.todo.clear()
            c.counts["pending"] -= left
            c.counts["skipped"] = c.counts.get("skipped", 0) + left
        return self._doc(c)

    async def counts(self, campaign_id: str) -> dict[str, int]:
        c = self.s.campaigns.get(campaign_id)
        return {} if c is None else {k: v for k, v in c.counts.items()}

    async def lanes(self, campaign_id: str) -> dict[str, dict[str, float]]:
        c = self.s.campaigns.get(campaign_id)
        if c is None:
            return {}
        out: dict[str, dict[str, float]] = {}
        for name, lane in c.lanes.items():
            inflight = sum(1 for ln, _d in c.inflight.values() if ln == name)
            out[name] = {
                "next_at": lane.next_at,
                "left": float(lane.left if lane.left is not None else -1),
                "todo": float(len(lane.todo)),
                "inflight": float(inflight),
            }
        return out

    async def set_lane(self, campaign_id: str, lane: str, next_at: float) -> None:
        c = self.s.campaigns.get(campaign_id)
        if c is not None and lane in c.lanes:
            c.lanes[lane].next_at = next_at

    async def claim_recipients(
        self,
        campaign_id: str,
        lane: str,
        n: int,
        now: float,
        deadline: float,
        batch_size: int | None = None,
        batch_interval_s: float = 0.0,
    ) -> Claimed:
        c = self.s.campaigns.get(campaign_id)
        if c is None or lane not in c.lanes:
            return Claimed()
        ln = c.lanes[lane]
        if now < ln.next_at:
            return Claimed(wait_until=ln.next_at)
        take = n
        if batch_size:
            if ln.left is None or ln.left <= 0:
                ln.left = batch_size
            take = min(n, ln.left)
        out = Claimed()
        popped = 0
        while ln.todo and popped < take:
            index = ln.todo.popleft()
            popped += 1
            rec = Recipient.decode(index, c.records[index])
            if rec.status != "pending":
                continue  # a status came before the mark: it was sent
            c.inflight[index] = (lane, deadline)
            out.recipients.append(rec)
        if batch_size and ln.left is not None:
            ln.left -= popped
            if ln.left <= 0:
                ln.next_at = now + batch_interval_s
                ln.left = batch_size
        return out

    async def requeue(
        self, campaign_id: str, lane: str, recipients: builtins.list[Recipient], *, front: bool
    ) -> None:
        c = self.s.campaigns.get(campaign_id)
        if c is None:
            return
        ln = c.lanes.setdefault(lane, _Lane())
        indexes = [r.index for r in recipients if c.inflight.pop(r.index, None) is not None]
        if front:
            ln.todo.extendleft(reversed(indexes))
        else:
            ln.todo.extend(indexes)

    async def recover(self, campaign_id: str, now: float) -> int:
        c = self.s.campaigns.get(campaign_id)
        if c is None:
            return 0
        lost = sorted((i, ln) for i, (ln, d) in c.inflight.items() if d <= now)
        for index, lane in reversed(lost):
            del c.inflight[index]
            c.lanes.setdefault(lane, _Lane()).todo.appendleft(index)
        return len(lost)

    async def finish(
        self,
        campaign_id: str,
        results: builtins.list[tuple[Recipient, StatusChange]],
        keep_values: bool,
    ) -> builtins.list[Transition]:
        c = self.s.campaigns.get(campaign_id)
        if c is None:
            return []
        out = []
        for rec, change in results:
            c.inflight.pop(rec.index, None)
            moved = self._apply_recipient(campaign_id, rec.index, change, keep_values)
            if moved is not None:
                out.append(Transition(change.ref, *moved))
        return out

    async def recipients(
        self, campaign_id: str, *, status: str | None = None, offset: int = 0, limit: int = 100
    ) -> tuple[builtins.list[Recipient], int | None]:
        c = self.s.campaigns.get(campaign_id)
        if c is None:
            return [], None
        skipped = self._doc(c).state == CampaignState.CANCELLED
        out: builtins.list[Recipient] = []
        total = len(c.records)
        position = max(0, offset)
        while position < total and len(out) < limit:
            rec = _shown(Recipient.decode(position, c.records[position]), skipped, c.inflight)
            if status is None or rec.status == status:
                out.append(rec)
            position += 1
        return out, (position if position < total else None)

    async def recipient(self, campaign_id: str, index: int) -> Recipient | None:
        c = self.s.campaigns.get(campaign_id)
        raw = None if c is None else c.records.get(index)
        return None if c is None or raw is None else Recipient.decode(index, raw)

    async def error_titles(self, campaign_id: str) -> dict[int, str]:
        c = self.s.campaigns.get(campaign_id)
        return {} if c is None else dict(c.titles)

    async def acquire(self, campaign_id: str, owner: str, ttl_ms: int) -> bool:
        c = self.s.campaigns.get(campaign_id)
        if c is None:
            return False
        now = time.monotonic()
        if c.lease is not None and c.lease[1] > now and c.lease[0] != owner:
            return False
        c.lease = (owner, now + ttl_ms / 1000)
        return True

    async def release(self, campaign_id: str, owner: str) -> None:
        c = self.s.campaigns.get(campaign_id)
        if c is not None and c.lease is not None and c.lease[0] == owner:
            c.lease = None


def _shown(rec: Recipient, cancelled: bool, inflight: dict[int, Any]) -> Recipient:
    """A pending recipient of a cancelled campaign shows as skipped."""
    if rec.status == "pending" and cancelled and rec.index not in inflight:
        return replace(rec, status="skipped")
    return rec
