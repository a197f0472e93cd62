"""Notifications and campaigns in Redis, shared by every engine process.

Keys (``NotificationKeys``): a number's catalog, individual notifications, their
idempotency keys, the due set, the reply index and the messaging-limit window carry the
number's tag ``{n<number>}``; a campaign's document, recipients hash, lane queues,
in-flight set, counts, error titles and lease carry ``{c<id>}``, so each atomic step is
one script on one slot. Global indexes (campaigns by creation, the active set, the
notification locator) are written beside the scripts, after them.
"""

from __future__ import annotations

import builtins
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from flow_engine.domain.campaigns import ACTIVE_STATES, Campaign, CampaignState, held_by_after
from flow_engine.domain.notifications import (
    LIMIT_WINDOW_S,
    REPLY_WINDOW_S,
    Notification,
    NotificationError,
    NotificationStatus,
    advance,
)
from flow_engine.domain.templates import CatalogTemplate
from flow_engine.storage import redis_scripts
from flow_engine.storage.keys import KeyBuilder
from flow_engine.storage.notifications import (
    CREATING_TTL_S,
    LETTER,
    LIST_LIMIT_MAX,
    Claimed,
    NotificationStore,
    Recipient,
    ReplyRef,
    StatusChange,
    Transition,
)

if TYPE_CHECKING:
    from flow_engine.storage.redis_backend import RedisBackend

IDEMPOTENCY_TTL_S = 24 * 3600
SCAN_CHUNK = 1000
CAS_ATTEMPTS = 20


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class NotificationKeys:
    keys: KeyBuilder

    def _n(self, number: str) -> str:
        return self.keys._n(number)

    def _c(self, campaign_id: str) -> str:
        return f"{self.keys.prefix}:{{c{campaign_id}}}"

    # number-scoped
    def catalog(self, number: str) -> str:
        return f"{self._n(number)}:catalog"

    def notification(self, number: str, nid: str) -> str:
        return f"{self._n(number)}:ntf:{nid}"

    def by_number(self, number: str) -> str:
        return f"{self._n(number)}:ntfs"

    def idempotency(self, number: str, key: str) -> str:
        return f"{self._n(number)}:ntf_idem:{key}"

    def claim(self, number: str, nid: str) -> str:
        return f"{self._n(number)}:ntf_claim:{nid}"

    def due(self, number: str) -> str:
        return f"{self._n(number)}:ntf_due"

    def reply(self, number: str, contact: str) -> str:
        return f"{self._n(number)}:nt:{contact}"

    def reached(self, number: str) -> str:
        return f"{self._n(number)}:reached"

    def lane_rate(self, number: str) -> str:
        return f"{self._n(number)}:rate:notify"

    # campaign-scoped
    def doc(self, cid: str) -> str:
        return f"{self._c(cid)}:doc"

    def recipients(self, cid: str) -> str:
        return f"{self._c(cid)}:r"

    def todo(self, cid: str, lane: str) -> str:
        return f"{self._c(cid)}:todo:{lane}"

    def inflight(self, cid: str) -> str:
        return f"{self._c(cid)}:inflight"

    def lanes(self, cid: str) -> str:
        return f"{self._c(cid)}:lanes"

    def counts(self, cid: str) -> str:
        return f"{self._c(cid)}:counts"

    def titles(self, cid: str) -> str:
        return f"{self._c(cid)}:titles"

    def lease(self, cid: str) -> str:
        return f"{self._c(cid)}:lease"

    # global
    def locator(self) -> str:
        """Hash: notification id -> number."""
        return f"{self.keys.prefix}:notifications:number"

    def numbers(self) -> str:
        """Set: numbers that have individual notifications (the due sets to sweep)."""
        return f"{self.keys.prefix}:notifications:numbers"

    def campaigns(self) -> str:
        """Sorted set: campaign id by created_at."""
        return f"{self.keys.prefix}:campaigns"

    def active(self) -> str:
        return f"{self.keys.prefix}:campaigns:active"


class RedisNotifications(NotificationStore):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.r = b.r
        self.k = NotificationKeys(b.keys)
        reg = b.r.register_script
        self.apply_script = reg(redis_scripts.NOTIFY_APPLY)
        self.claim_script = reg(redis_scripts.NOTIFY_CLAIM)
        self.requeue_script = reg(redis_scripts.NOTIFY_REQUEUE)
        self.recover_script = reg(redis_scripts.NOTIFY_RECOVER)
        self.transition_script = reg(redis_scripts.NOTIFY_TRANSITION)
        self.reach_script = reg(redis_scripts.NOTIFY_REACH)
        self.reserve_script = reg(redis_scripts.NOTIFY_RESERVE)
        self.lease_script = reg(redis_scripts.NOTIFY_LEASE)
        self.create_script = reg(redis_scripts.NOTIFY_CREATE)
        self.release_script = reg(redis_scripts.RELEASE)
        self.cas_script = reg(redis_scripts.NOTIFY_CAS)

    # ------------------------------------------------------------------- catalog
    async def save_catalog(
        self, number: str, templates: list[CatalogTemplate], synced_at: float
    ) -> None:
        doc = {"at": synced_at, "templates": [t.model_dump() for t in templates]}
        await self.r.set(self.k.catalog(number), json.dumps(doc))

    async def catalog(self, number: str) -> tuple[list[CatalogTemplate], float | None]:
        raw = await self.r.get(self.k.catalog(number))
        if raw is None:
            return [], None
        doc = json.loads(raw)
        return [CatalogTemplate.model_validate(t) for t in doc["templates"]], float(doc["at"])

    # ------------------------------------------------------- individual notifications
    async def _number_of(self, nid: str) -> str | None:
        number = await self.r.hget(self.k.locator(), nid)
        return None if number is None else _s(number)

    async def create(
        self, notification: Notification, idempotency_key: str | None, due: float
    ) -> tuple[Notification, bool]:
        n, nid = notification.number, notification.id
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(self.k.locator(), nid, n)
        pipe.sadd(self.k.numbers(), n)
        await pipe.execute()
        reply = await self.create_script(
            keys=[
                self.k.notification(n, nid),
                self.k.idempotency(n, idempotency_key or ""),
                self.k.by_number(n),
                self.k.due(n),
            ],
            args=[
                nid,
                notification.model_dump_json(),
                repr(notification.created_at),
                repr(due),
                IDEMPOTENCY_TTL_S if idempotency_key is not None else "",
            ],
        )
        if int(reply[0]) == 1:
            return notification, True
        await self.r.hdel(self.k.locator(), nid)
        stored = await self.get(_s(reply[1]))
        if stored is None:  # the key outlived its notification: should not happen
            raise LookupError(f"idempotency key names a missing notification {_s(reply[1])}")
        return stored, False

    async def get(self, notification_id: str) -> Notification | None:
        number = await self._number_of(notification_id)
        if number is None:
            return None
        raw = await self.r.get(self.k.notification(number, notification_id))
        return None if raw is None else Notification.model_validate_json(raw)

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
        limit, offset = max(0, min(limit, LIST_LIMIT_MAX)), max(0, offset)
        lo = "-inf" if since is None else repr(since)
        hi = "+inf" if until is None else repr(until)
        found: builtins.list[Notification] = []
        start = 0
        while len(found) < offset + limit:
            ids: Any = await self.r.zrevrangebyscore(
                self.k.by_number(number), hi, lo, start=start, num=SCAN_CHUNK
            )
            if not ids:
                break
            pipe = self.r.pipeline(transaction=False)
            for i in ids:
                pipe.get(self.k.notification(number, _s(i)))
            for raw in await pipe.execute():
                if raw is None:
                    continue
                n = Notification.model_validate_json(raw)
                if (status is None or n.status.value == status) and (
                    template is None or n.template.name == template
                ):
                    found.append(n)
            start += SCAN_CHUNK
        return found[offset : offset + limit]

    async def claim(self, notification_id: str, owner: str, ttl_ms: int) -> bool:
        current = await self.get(notification_id)
        if current is None or current.status != NotificationStatus.PENDING or current.wamid:
            return False
        reply = await self.lease_script(
            keys=[self.k.claim(current.number, notification_id)], args=[owner, ttl_ms]
        )
        return int(reply) == 1

    async def _change(
        self,
        nid: str,
        change: Any,
        due: Callable[[Notification], str] = lambda _n: "",
        drop_claim: bool = False,
    ) -> tuple[Notification, Notification] | None:
        """Optimistic read-modify-write of one notification (compare-and-set in a script):
        ``change`` maps the stored document to the new one (None: nothing to write);
        ``due`` says what happens to its place in the due set (see NOTIFY_CAS)."""
        number = await self._number_of(nid)
        if number is None:
            return None
        k = self.k
        key = k.notification(number, nid)
        for _ in range(CAS_ATTEMPTS):
            raw = await self.r.get(key)
            if raw is None:
                return None
            before = Notification.model_validate_json(raw)
            after = change(before)
            if after is None:
                return before, before
            written = await self.cas_script(
                keys=[key, k.claim(number, nid), k.due(number)],
                args=[
                    _s(raw),
                    after.model_dump_json(),
                    nid,
                    due(after),
                    "1" if drop_claim else "",
                ],
            )
            if int(written) == 1:
                return before, after
        raise RuntimeError(f"notification {nid} kept changing")

    async def settle(
        self, notification_id: str, fields: dict[str, Any], due: float | None
    ) -> Notification | None:
        def change(before: Notification) -> Notification:
            doc = before.model_dump(mode="json")
            given = dict(fields)
            status = given.pop("status", None)
            at = float(given.pop("at", 0) or 0)
            doc.update({f: v for f, v in given.items() if doc.get(f) is None or f == "attempts"})
            if status is not None:
                doc.update(advance(doc, status, at) or {})
            return Notification.model_validate(doc)

        changed = await self._change(
            notification_id,
            change,
            lambda _n: "-" if due is None else repr(due),
            drop_claim=True,
        )
        return None if changed is None else changed[1]

    async def due(self, now: float, limit: int = 50) -> builtins.list[str]:
        numbers = [_s(n) for n in await self.r.smembers(self.k.numbers())]
        if not numbers:
            return []
        pipe = self.r.pipeline(transaction=False)
        for n in numbers:
            pipe.zrangebyscore(self.k.due(n), "-inf", repr(now), start=0, num=limit)
        out: builtins.list[str] = []
        for ids in await pipe.execute():
            out.extend(_s(i) for i in ids)
        return out[:limit]

    # ----------------------------------------------------------------- statuses
    async def apply(self, changes: Sequence[StatusChange]) -> builtins.list[Transition]:
        out: builtins.list[Transition] = []
        by_campaign: dict[str, builtins.list[StatusChange]] = defaultdict(builtins.list)
        for change in changes:
            kind, _, rest = change.ref.partition(":")
            if kind == "n":
                moved = await self._apply_notification(rest, change)
                if moved is not None:
                    out.append(moved)
            elif kind == "c":
                by_campaign[rest.partition(":")[0]].append(change)
        calls = []
        for cid, group in by_campaign.items():
            args: builtins.list[Any] = ["1"]
            for c in group:
                index = c.ref.rsplit(":", 1)[1]
                args += [
                    index,
                    "",
                    LETTER[c.status],
                    int(c.at),
                    c.wamid,
                    "" if c.code is None else c.code,
                    c.title,
                    c.replied_by,
                ]
            calls.append((self._campaign_apply_keys(cid), args))
        if calls:
            replies = await self.b.run_pipelined(self.apply_script, calls)
            for (_keys, _args), reply, cid in zip(calls, replies, by_campaign, strict=True):
                out += self._transitions(cid, reply)
        return out

    def _campaign_apply_keys(self, cid: str) -> builtins.list[str]:
        k = self.k
        return [k.recipients(cid), k.counts(cid), k.titles(cid), k.inflight(cid)]

    @staticmethod
    def _transitions(cid: str, reply: Any) -> builtins.list[Transition]:
        out = []
        for i in range(0, len(reply), 4):
            before, after = _s(reply[i + 1]), _s(reply[i + 2])
            if before != after:
                out.append(Transition(f"c:{cid}:{_s(reply[i])}", before, after))
        return out

    async def _apply_notification(self, nid: str, change: StatusChange) -> Transition | None:
        def update(before: Notification) -> Notification | None:
            doc = before.model_dump(mode="json")
            error = (
                NotificationError(code=change.code, title=change.title)
                if change.status == "failed"
                else None
            )
            changed = dict(advance(doc, change.status, change.at, error) or {})
            if change.wamid and not doc.get("wamid"):
                changed["wamid"] = change.wamid
            if not changed:
                return None
            return Notification.model_validate({**doc, **changed})

        def due(after: Notification) -> str:
            return "" if after.status == NotificationStatus.PENDING else "-"

        changed = await self._change(nid, update, due)
        if changed is None or changed[0].status == changed[1].status:
            return None
        return Transition(f"n:{nid}", changed[0].status.value, changed[1].status.value)

    # ---------------------------------------------------------------- replies
    async def remember(self, number: str, contacts: dict[str, str], at: float) -> None:
        if not contacts:
            return
        pipe = self.r.pipeline(transaction=False)
        for contact, ref in contacts.items():
            pipe.set(self.k.reply(number, contact), f"{ref}|{int(at)}", ex=REPLY_WINDOW_S)
        await pipe.execute()

    async def reply_ref(self, number: str, contact: str, now: float) -> ReplyRef | None:
        key = self.k.reply(number, contact)
        raw = await self.b.batch.call(lambda pipe: pipe.get(key))
        if raw is None:
            return None
        ref, _, at = _s(raw).rpartition("|")
        if float(at) + REPLY_WINDOW_S < now:
            return None
        return ReplyRef(ref, float(at))

    async def mark_replied(self, ref: str, message_id: str, at: float) -> bool:
        kind, _, rest = ref.partition(":")
        if kind == "n":
            result = {"reply": False}

            def update(before: Notification) -> Notification | None:
                if before.status == NotificationStatus.REPLIED:
                    result["reply"] = before.replied_by == message_id
                    return None
                changed = advance(before.model_dump(mode="json"), "replied", at)
                if not changed or "status" not in changed:
                    return None
                result["reply"] = True
                doc = {**before.model_dump(mode="json"), **changed, "replied_by": message_id}
                return Notification.model_validate(doc)

            await self._change(rest, update)
            return result["reply"]
        cid, _, index = rest.partition(":")
        reply = await self.apply_script(
            keys=self._campaign_apply_keys(cid),
            args=["1", index, "", "y", int(at), "", "", "", message_id],
        )
        return bool(reply) and _s(reply[3]) == "1"

    # --------------------------------------------------------------- sending limits
    async def reach(
        self, number: str, contacts: builtins.list[str], limit: int | None, now: float
    ) -> tuple[builtins.list[bool], float | None]:
        if limit is None or not contacts:
            return [True] * len(contacts), None
        reply = await self.reach_script(
            keys=[self.k.reached(number)], args=[now, LIMIT_WINDOW_S, limit, *contacts]
        )
        allowed = [int(x) == 1 for x in reply[1:]]
        oldest = _s(reply[0])
        frees = None if all(allowed) or not oldest else float(oldest) + LIMIT_WINDOW_S
        return allowed, frees

    async def reserve(self, number: str, per_second: float, share: float, n: int) -> float:
        lane_rate = per_second * share
        args = []
        for rate in (lane_rate, per_second):
            interval = 1_000_000.0 / rate
            args += [interval, max(1.0, rate) * interval]
        wait_us = await self.b.batch.script(
            self.reserve_script,
            [self.k.lane_rate(number), self.b.keys.rate(number)],
            [*args, n],
        )
        return float(wait_us) / 1_000_000

    # --------------------------------------------------------------- campaigns
    async def add_recipients(
        self, campaign_id: str, lane: str, chunk: builtins.list[Recipient]
    ) -> None:
        if not chunk:
            return
        k = self.k
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(k.recipients(campaign_id), mapping={str(r.index): r.encode() for r in chunk})
        pipe.rpush(k.todo(campaign_id, lane), *(r.index for r in chunk))
        pipe.expire(k.recipients(campaign_id), CREATING_TTL_S)
        pipe.expire(k.todo(campaign_id, lane), CREATING_TTL_S)
        await pipe.execute()

    async def create_campaign(self, campaign: Campaign, lanes: dict[str, float]) -> None:
        k, cid = self.k, campaign.id
        pipe = self.r.pipeline(transaction=True)
        pipe.set(k.doc(cid), campaign.model_dump_json())
        pipe.hset(k.counts(cid), mapping={"total": campaign.total, "pending": campaign.total})
        if lanes:
            pipe.hset(k.lanes(cid), mapping={f"n:{lane}": repr(at) for lane, at in lanes.items()})
        pipe.persist(k.recipients(cid))
        for lane in lanes:
            pipe.persist(k.todo(cid, lane))
        await pipe.execute()
        pipe = self.r.pipeline(transaction=False)
        pipe.zadd(k.campaigns(), {cid: campaign.created_at})
        if campaign.state in ACTIVE_STATES:
            pipe.sadd(k.active(), cid)
        await pipe.execute()

    async def campaign(self, campaign_id: str) -> Campaign | None:
        raw = await self.r.get(self.k.doc(campaign_id))
        return None if raw is None else Campaign.model_validate_json(raw)

    async def campaigns(
        self,
        *,
        number: str | None = None,
        state: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Campaign]:
        limit, offset = max(0, min(limit, LIST_LIMIT_MAX)), max(0, offset)
        found: builtins.list[Campaign] = []
        start = 0
        while len(found) < offset + limit:
            ids: Any = await self.r.zrevrange(self.k.campaigns(), start, start + SCAN_CHUNK - 1)
            if not ids:
                break
            pipe = self.r.pipeline(transaction=False)
            for i in ids:
                pipe.get(self.k.doc(_s(i)))
            for raw in await pipe.execute():
                if raw is None:
                    continue
                d = Campaign.model_validate_json(raw)
                if (number is None or number in d.senders) and (state is None or d.state == state):
                    found.append(d)
            start += SCAN_CHUNK
        return found[offset : offset + limit]

    async def active(self) -> builtins.list[str]:
        return sorted(_s(i) for i in await self.r.smembers(self.k.active()))

    async def transition(
        self,
        campaign_id: str,
        allowed: set[str],
        state: str,
        fields: dict[str, Any],
        *,
        marks: Sequence[str] = (),
    ) -> Campaign | None:
        k = self.k
        for _ in range(CAS_ATTEMPTS):
            raw = await self.r.get(k.doc(campaign_id))
            if raw is None:
                return None
            doc = Campaign.model_validate_json(raw)
            if doc.state.value not in allowed:
                return None
            held_by = held_by_after(doc.held_by, list(marks))
            if held_by is None:
                return None
            updated = Campaign.model_validate(
                {**doc.model_dump(), **fields, "state": CampaignState(state), "held_by": held_by}
            )
            cancel = state == CampaignState.CANCELLED
            todo = [k.todo(campaign_id, lane) for lane in doc.senders] if cancel else []
            written = await self.transition_script(
                keys=[k.doc(campaign_id), k.counts(campaign_id), *todo],
                args=[_s(raw), updated.model_dump_json(), "1" if cancel else "0"],
            )
            if int(written) != 1:
                continue
            if updated.state in ACTIVE_STATES:
                await self.r.sadd(k.active(), campaign_id)
            else:
                await self.r.srem(k.active(), campaign_id)
            return updated
        raise RuntimeError(f"campaign {campaign_id} kept changing")

    async def counts(self, campaign_id: str) -> dict[str, int]:
        raw = await self.r.hgetall(self.k.counts(campaign_id))
        return {_s(f): int(v) for f, v in raw.items()}

    async def lanes(self, campaign_id: str) -> dict[str, dict[str, float]]:
        doc = await self.campaign(campaign_id)
        if doc is None:
            return {}
        k = self.k
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(k.lanes(campaign_id))
        pipe.zrange(k.inflight(campaign_id), 0, -1)
        for lane in doc.senders:
            pipe.llen(k.todo(campaign_id, lane))
        hash_, inflight, *lengths = await pipe.execute()
        fields = {_s(f): float(v) for f, v in hash_.items()}
        members = [_s(m).rsplit("|", 1)[0] for m in inflight]
        return {
            lane: {
                "next_at": fields.get(f"n:{lane}", 0.0),
                "left": fields.get(f"l:{lane}", -1.0),
                "todo": float(length),
                "inflight": float(members.count(lane)),
            }
            for lane, length in zip(doc.senders, lengths, strict=True)
        }

    async def set_lane(self, campaign_id: str, lane: str, next_at: float) -> None:
        await self.r.hset(self.k.lanes(campaign_id), f"n:{lane}", repr(next_at))

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
        k = self.k
        reply = await self.claim_script(
            keys=[
                k.todo(campaign_id, lane),
                k.inflight(campaign_id),
                k.lanes(campaign_id),
                k.recipients(campaign_id),
            ],
            args=[lane, n, repr(now), repr(deadline), batch_size or 0, batch_interval_s],
        )
        if int(reply[0]) == -1:
            return Claimed(wait_until=float(reply[1]))
        return Claimed(
            [Recipient.decode(int(reply[i]), reply[i + 1]) for i in range(1, len(reply), 2)]
        )

    async def requeue(
        self, campaign_id: str, lane: str, recipients: builtins.list[Recipient], *, front: bool
    ) -> None:
        if not recipients:
            return
        await self.requeue_script(
            keys=[self.k.todo(campaign_id, lane), self.k.inflight(campaign_id)],
            args=["1" if front else "0", lane, *(r.index for r in recipients)],
        )

    async def recover(self, campaign_id: str, now: float) -> int:
        doc = await self.campaign(campaign_id)
        if doc is None:
            return 0
        moved = await self.recover_script(
            keys=[
                self.k.inflight(campaign_id),
                *(self.k.todo(campaign_id, lane) for lane in doc.senders),
            ],
            args=[repr(now), *doc.senders],
        )
        return int(moved)

    async def finish(
        self,
        campaign_id: str,
        results: builtins.list[tuple[Recipient, StatusChange]],
        keep_values: bool,
    ) -> builtins.list[Transition]:
        if not results:
            return []
        args: builtins.list[Any] = ["1" if keep_values else "0"]
        for rec, c in results:
            args += [
                rec.index,
                rec.sender,
                LETTER[c.status],
                int(c.at),
                c.wamid,
                "" if c.code is None else c.code,
                c.title,
                c.replied_by,
            ]
        reply = await self.b.batch.script(
            self.apply_script, self._campaign_apply_keys(campaign_id), args
        )
        return self._transitions(campaign_id, reply)

    async def recipients(
        self, campaign_id: str, *, status: str | None = None, offset: int = 0, limit: int = 100
    ) -> tuple[builtins.list[Recipient], int | None]:
        k = self.k
        doc = await self.campaign(campaign_id)
        if doc is None:
            return [], None
        total = doc.total
        cancelled = doc.state == CampaignState.CANCELLED
        members: Any = await self.r.zrange(k.inflight(campaign_id), 0, -1)
        inflight = {int(_s(m).rsplit("|", 1)[1]) for m in members}
        out: builtins.list[Recipient] = []
        position = max(0, offset)
        while position < total and len(out) < limit:
            upto = min(total, position + max(limit, SCAN_CHUNK))
            indexes = list(range(position, upto))
            raws = await self.r.hmget(k.recipients(campaign_id), [str(i) for i in indexes])
            for index, raw in zip(indexes, raws, strict=True):
                position = index + 1
                if raw is None:
                    continue
                rec = Recipient.decode(index, raw)
                if rec.status == "pending" and cancelled and index not in inflight:
                    rec = replace(rec, status="skipped")
                if status is None or rec.status == status:
                    out.append(rec)
                    if len(out) >= limit:
                        break
        return out, (position if position < total else None)

    async def recipient(self, campaign_id: str, index: int) -> Recipient | None:
        raw = await self.r.hget(self.k.recipients(campaign_id), str(index))
        return None if raw is None else Recipient.decode(index, raw)

    async def error_titles(self, campaign_id: str) -> dict[int, str]:
        raw = await self.r.hgetall(self.k.titles(campaign_id))
        return {int(_s(c)): _s(t) for c, t in raw.items()}

    async def acquire(self, campaign_id: str, owner: str, ttl_ms: int) -> bool:
        reply = await self.lease_script(keys=[self.k.lease(campaign_id)], args=[owner, ttl_ms])
        return int(reply) == 1

    async def release(self, campaign_id: str, owner: str) -> None:
        await self.release_script(keys=[self.k.lease(campaign_id)], args=[owner])
