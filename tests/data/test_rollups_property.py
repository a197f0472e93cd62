"""Property: for random sequences of ticket, message, notification and survey events on
several numbers in several time zones, every figure the data service answers from the
rollups equals a brute-force recomputation from the raw events, for random periods and
number sets — on memory and on Redis.

The brute force reads the events as they happened (datetimes in each number's zone)
and applies the definitions of docs/data.md directly; the service goes through the
facts, the ticket store's scripts, the commit's fact stream, the fold, the notification
steps (``notify/facts.py``, status webhooks through the tracker), the lanes and the
sums. A notification's sends, statuses (sent, delivered, read, failed — a read without
a delivered, a failure after a delivery) and replies arrive in a random order, some of
them twice.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flow_engine.data.service import DataService, Query
from flow_engine.devtools.redis_server import RedisServer
from flow_engine.domain import facts as F
from flow_engine.domain.conversation import Conversation
from flow_engine.domain.inbound import StatusUpdate
from flow_engine.domain.metrics import mean_s, ratio_pct
from flow_engine.domain.notifications import Notification, TemplateRef, callback_data
from flow_engine.domain.tickets import Ticket, TicketStatus
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.metrics.registry import Metrics
from flow_engine.notify.facts import NotificationFacts
from flow_engine.notify.tracking import Tracker
from flow_engine.storage.base import Storage
from flow_engine.storage.memory import memory_storage
from flow_engine.storage.outbox import OutboxItem
from flow_engine.storage.redis import redis_storage

NUMBERS = {
    "100000000000001": "America/Sao_Paulo",
    "100000000000002": "Asia/Tokyo",
    "100000000000003": "Europe/Madrid",
}
QUEUES = ["Ventas", "Soporte", "Otros asuntos"]
BASE = int(time.time()) - 20 * 86400  # recent: within the rollups' retention
SPAN = 12 * 86400
CLOSINGS = [
    TicketStatus.CLOSED_BY_ATTENDANT,
    TicketStatus.CLOSED_BY_CONTACT,
    TicketStatus.CLOSED_BY_INACTIVITY,
    TicketStatus.TRANSFERRED,
]


@dataclass
class RawTicket:
    number: str
    queue: str
    created: int
    assigned: int | None
    messages: list[tuple[int, str]]  # (at, "contact" | "attendant"), in time order
    closing: TicketStatus | None
    closed: int | None


#: notification recipients and their regions, told here by hand (not by domain/regions.py)
REGIONS = {
    "5511900000001": "BR-SP",  # also one of the contacts who write (MAU counts them once)
    "5511987650002": "BR-SP",
    "5521987650003": "BR-RJ",
    "5491100000101": "AR",
    "34600000001": "ES",
    "552012345678": "BR",  # Brazil, but no state has the area code 20
}
TEMPLATES = ["promo_descuento", "recordatorio_cita"]
STATUSES = ["sent", "delivered", "read", "failed"]


@dataclass
class RawNotification:
    number: str
    phone: str
    template: str
    sent: int  # when the send was done
    ok: bool  # accepted by the gateway (else refused for good)
    statuses: list[tuple[str, int]]  # status webhooks: (status, its timestamp)
    replies: list[int]  # the contact's replies the tracker took as replies


@dataclass
class World:
    tickets: list[RawTicket] = field(default_factory=list)
    received: list[tuple[str, str, int]] = field(default_factory=list)  # number, contact, at
    sent: list[tuple[str, str, int, str]] = field(default_factory=list)  # + source
    shown: list[tuple[str, int]] = field(default_factory=list)  # number, at (csat)
    answered: list[tuple[str, int, int]] = field(default_factory=list)  # number, at, score
    notifications: list[RawNotification] = field(default_factory=list)
    #: the order the notifications' steps arrive in, repeats included: (kind, n, j) with
    #: kind "send", "status" (j: the status) or "reply" (j: the reply)
    steps: list[tuple[str, int, int]] = field(default_factory=list)


@st.composite
def raw_ticket(draw: st.DrawFn) -> RawTicket:
    number = draw(st.sampled_from(sorted(NUMBERS)))
    created = BASE + draw(st.integers(0, SPAN))
    steps = sorted(draw(st.lists(st.integers(1, 2 * 86400), min_size=0, max_size=6)))
    assigned_at = draw(st.none() | st.integers(1, 2 * 86400))
    closing = draw(st.none() | st.sampled_from(CLOSINGS))
    end = created + (steps[-1] if steps else 0) + draw(st.integers(1, 86400))
    if assigned_at is not None:
        end = max(end, created + assigned_at + 1)
    senders = draw(
        st.lists(
            st.sampled_from(["contact", "attendant"]), min_size=len(steps), max_size=len(steps)
        )
    )
    return RawTicket(
        number=number,
        queue=draw(st.sampled_from(QUEUES)),
        created=created,
        assigned=None if assigned_at is None else created + assigned_at,
        messages=[(created + s, who) for s, who in zip(steps, senders, strict=True)],
        closing=closing,
        closed=end if closing is not None else None,
    )


instants = st.integers(BASE, BASE + SPAN)
contacts = st.sampled_from([f"55119000000{i:02d}" for i in range(12)])
numbers = st.sampled_from(sorted(NUMBERS))
later = st.integers(0, 2 * 86400)  # a status or reply up to two days after the send


@st.composite
def raw_notification(draw: st.DrawFn) -> RawNotification:
    sent = draw(instants)
    return RawNotification(
        number=draw(numbers),
        phone=draw(st.sampled_from(sorted(REGIONS))),
        template=draw(st.sampled_from(TEMPLATES)),
        sent=sent,
        ok=draw(st.booleans() | st.just(True)),
        statuses=[
            (status, sent + dt)
            for status, dt in draw(
                st.lists(st.tuples(st.sampled_from(STATUSES), later), max_size=4)
            )
        ],
        replies=[sent + dt for dt in draw(st.lists(later, max_size=2))],
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    notifications = draw(st.lists(raw_notification(), max_size=6))
    steps = [
        (kind, i, j)
        for i, n in enumerate(notifications)
        for kind, count in (("send", 1), ("status", len(n.statuses)), ("reply", len(n.replies)))
        for j in range(count)
    ]
    if steps:  # some arrive twice: a retried send, a webhook delivered again
        steps += draw(st.lists(st.sampled_from(steps), max_size=4))
    return World(
        tickets=draw(st.lists(raw_ticket(), max_size=8)),
        received=draw(st.lists(st.tuples(numbers, contacts, instants), max_size=12)),
        sent=draw(
            st.lists(
                st.tuples(numbers, contacts, instants, st.sampled_from(["bot", "attendant"])),
                max_size=12,
            )
        ),
        shown=draw(st.lists(st.tuples(numbers, instants), max_size=5)),
        answered=draw(st.lists(st.tuples(numbers, instants, st.integers(1, 5)), max_size=5)),
        notifications=notifications,
        steps=draw(st.permutations(steps)),
    )


@st.composite
def queries(draw: st.DrawFn) -> Query:
    chosen = draw(st.lists(st.sampled_from(sorted(NUMBERS)), min_size=1, max_size=3, unique=True))
    first = date.fromtimestamp(BASE) - timedelta(days=1) + timedelta(days=draw(st.integers(0, 14)))
    last = first + timedelta(days=draw(st.integers(0, 14)))
    interval = draw(st.sampled_from(["day", "week", "month"]))
    return Query(tuple(sorted(chosen)), first, last, interval)


# --------------------------------------------------------------------------- replay


async def replay(storage: Storage, world: World) -> None:
    for i, raw in enumerate(world.tickets):
        await replay_ticket(storage, raw, f"t_{i}")
    for k, (number, contact, at) in enumerate(world.received):
        facts = F.message_received(number, contact, at, NUMBERS[number])
        await commit(storage, number, f"r{k}", facts)
    for k, (number, contact, at, source) in enumerate(world.sent):
        item = OutboxItem(number, contact, f"s{k}", "send", {}, source)
        conv = Conversation(number=number, contact=f"s{k}")
        (entry,) = (await storage.conversations.commit(k % 8, conv, None, [item])).outbox
        facts = F.message_sent(number, contact, source, at, NUMBERS[number])  # type: ignore[arg-type]
        await storage.outbox.complete(entry, "wamid", facts)
    for k, (number, at) in enumerate(world.shown):
        await commit(storage, number, f"v{k}", F.survey_shown(number, "csat", at, NUMBERS[number]))
    for k, (number, at, score) in enumerate(world.answered):
        facts = F.survey_answered(number, "csat", score, at, NUMBERS[number])
        await commit(storage, number, f"a{k}", facts)
    await replay_notifications(storage, world)
    for p in range(8):
        while await storage.rollups.fold(p, limit=7) > 0:
            pass


async def replay_notifications(storage: Storage, world: World) -> None:
    """Each step through the engine's own path: the send as the sender records it, the
    status webhooks through the tracker (facts, then the store), the replies as the
    tracker records them."""
    configs = ConfigCache(storage.configs)
    for number, zone in NUMBERS.items():
        config = {"phone_number_id": number, "display_phone_number": number, "name": number}
        await storage.configs.put(number, {**config, "timezone": zone})
    facts = NotificationFacts(storage.rollups, configs, storage.notifications)
    tracker = Tracker(storage.notifications, Metrics(), configs=configs, facts=facts)
    for i, n in enumerate(world.notifications):
        doc = Notification(
            id=f"nt{i}",
            number=n.number,
            to=n.phone,
            template=TemplateRef(name=n.template, language="es"),
            created_at=n.sent,
        )
        await storage.notifications.create(doc, None, n.sent)
    for kind, i, j in world.steps:
        n = world.notifications[i]
        ref = f"n:nt{i}"
        if kind == "send":
            await facts.sent(ref, n.number, n.phone, n.template, n.sent, ok=n.ok)
        elif kind == "status":
            status, at = n.statuses[j]
            update = StatusUpdate(
                message_id=f"wamid.{i}",
                number=n.number,
                recipient=n.phone,
                status=status,
                timestamp=at,
                callback=callback_data("n", f"nt{i}"),
            )
            await tracker.on_statuses([update])
        else:
            await facts.replied(ref, n.number, n.phone, n.replies[j])


async def commit(storage: Storage, number: str, contact: str, facts: F.Facts) -> None:
    conv = Conversation(number=number, contact=contact)
    await storage.conversations.commit(hash(contact) % 8, conv, None, [], None, facts)


async def replay_ticket(storage: Storage, raw: RawTicket, ticket_id: str) -> None:
    ticket = Ticket.open(
        id=ticket_id,
        number=raw.number,
        contact=f"55119999{ticket_id[2:]:0>5}",  # one open ticket per contact
        contact_name="X",
        queue=raw.queue,
        attendants=[],
        now=raw.created,
        timezone=NUMBERS[raw.number],
    )
    await storage.tickets.create(ticket)
    changes: list[tuple[int, Any]] = []
    if raw.assigned is not None:
        changes.append((raw.assigned, lambda t, at=raw.assigned: t.assign("a@x.com", at)))
    for j, (at, who) in enumerate(raw.messages):
        changes.append((at, lambda t, at=at, who=who, j=j: t.with_message(f"m{j}", who, "x", at)))
    changes.sort(key=lambda c: c[0])
    for _at, change in changes:
        if raw.closed is not None and _at >= raw.closed:
            break
        await storage.tickets.update(ticket_id, change)
    if raw.closing == TicketStatus.TRANSFERRED:
        await storage.tickets.update(
            ticket_id,
            lambda t: t.transfer_to("t_next", queue="Ventas", attendants=[], now=raw.closed)[0],
        )
    elif raw.closing is not None:
        await storage.tickets.update(ticket_id, lambda t: t.close(raw.closing, raw.closed))


# --------------------------------------------------------------------------- brute force


def local(number: str, at: int) -> date:
    return datetime.fromtimestamp(at, ZoneInfo(NUMBERS[number])).date()


def brute_service(world: World, q: Query) -> dict[str, Any]:
    def inside(number: str, at: int | None) -> bool:
        return at is not None and number in q.numbers and q.start <= local(number, at) <= q.end

    c = dict.fromkeys(["offered", "closed", "attended", "abandoned", "lost", "transferred"], 0)
    samples: dict[str, list[int]] = {"aht": [], "tmf": [], "fr": [], "rt": []}
    for t in world.tickets:
        n = t.number
        assigned = (
            t.assigned
            if t.assigned is not None and (t.closed is None or t.assigned < t.closed)
            else None
        )
        if inside(n, t.created):
            c["offered"] += 1
        if assigned is not None and inside(n, assigned):
            samples["tmf"].append((assigned - t.created) * 1000)
        kept = [(at, who) for at, who in t.messages if t.closed is None or at < t.closed]
        first_done = False
        waiting: int | None = None
        for at, who in kept:
            if who == "contact":
                if waiting is None:
                    waiting = at
                continue
            # an attendant message (its time, as of the ticket's assignment then)
            assigned_now = assigned if assigned is not None and assigned <= at else None
            if assigned_now is not None and not first_done:
                first_done = True
                if inside(n, at):
                    samples["fr"].append((at - assigned_now) * 1000)
            if waiting is not None:
                start = max(waiting, assigned_now) if assigned_now is not None else waiting
                if inside(n, at):
                    samples["rt"].append((at - start) * 1000)
            waiting = None
        if t.closing is None or not inside(n, t.closed):
            continue
        assert t.closed is not None
        c["closed"] += 1
        if t.closing in (TicketStatus.CLOSED_BY_ATTENDANT, TicketStatus.TRANSFERRED):
            c["attended"] += 1
        if t.closing == TicketStatus.TRANSFERRED:
            c["transferred"] += 1
        if t.closing == TicketStatus.CLOSED_BY_CONTACT and assigned is not None:
            c["abandoned"] += 1
        if assigned is None and t.closing in (
            TicketStatus.CLOSED_BY_CONTACT,
            TicketStatus.CLOSED_BY_INACTIVITY,
        ):
            c["lost"] += 1
        if assigned is not None:
            samples["aht"].append((t.closed - assigned) * 1000)

    def mean(name: str) -> float | None:
        return mean_s(sum(samples[name]), len(samples[name]))

    tmf, fr = mean("tmf"), mean("fr")
    return {
        **c,
        "attended_pct": ratio_pct(c["closed"], c["offered"]),
        "aht_s": mean("aht"),
        "tmf_s": tmf,
        "first_response_s": fr,
        "tme_s": None if tmf is None or fr is None else round(tmf + fr, 3),
        "response_s": mean("rt"),
    }


def brute_messages(world: World, q: Query) -> dict[str, Any]:
    def inside(number: str, at: int) -> bool:
        return number in q.numbers and q.start <= local(number, at) <= q.end

    received = sum(1 for n, _c, at in world.received if inside(n, at))
    bot = sum(1 for n, _c, at, s in world.sent if s == "bot" and inside(n, at))
    attendant = sum(1 for n, _c, at, s in world.sent if s == "attendant" and inside(n, at))
    notified = sum(1 for n in world.notifications if n.ok and inside(n.number, n.sent))
    return {
        "received": received,
        "sent": bot + attendant + notified,
        "sent_bot": bot,
        "sent_attendant": attendant,
        "sent_notification": notified,
    }


def brute_mau(world: World, q: Query, month: str) -> tuple[int, int]:
    mau = {
        c
        for n, c, at in world.received
        if n in q.numbers and local(n, at).isoformat()[:7] == month
    }
    mis = set(mau)
    mau |= {
        c
        for n, c, at, _s in world.sent
        if n in q.numbers and local(n, at).isoformat()[:7] == month
    }
    mau |= {  # a notification the gateway accepted is a message sent to its recipient
        x.phone
        for x in world.notifications
        if x.ok and x.number in q.numbers and local(x.number, x.sent).isoformat()[:7] == month
    }
    return len(mau), len(mis)


def notification_steps(world: World) -> list[dict[str, int]]:
    """When each figure counts each notification (docs/data.md), read from the steps in
    the order they arrived: ``sent`` at the send; ``received`` at the first delivered or
    read webhook to arrive, ``read`` at the first read, ``failed`` at the first refused
    send or failed webhook, ``replied`` at the first reply — each at the time the step
    tells, and once: a step arriving again counts nothing. A ``sent`` webhook counts
    nothing (the send already did)."""
    out: list[dict[str, int]] = [{} for _ in world.notifications]
    for kind, i, j in world.steps:
        n, levels = world.notifications[i], out[i]
        if kind == "send":
            levels.setdefault("sent", n.sent)
            if not n.ok:
                levels.setdefault("failed", n.sent)
        elif kind == "status":
            status, at = n.statuses[j]
            reached = {"delivered": ["received"], "read": ["received", "read"]}
            for level in reached.get(status, ["failed"] if status == "failed" else []):
                levels.setdefault(level, at)
        else:
            levels.setdefault("replied", n.replies[j])
    return out


def brute_notifications(world: World, q: Query, keep: Any = None) -> dict[str, Any]:
    """The figures of the notifications ``keep`` accepts (all by default)."""
    c = dict.fromkeys(["sent", "received", "read", "failed", "replied"], 0)
    for n, steps in zip(world.notifications, notification_steps(world), strict=True):
        if n.number not in q.numbers or (keep is not None and not keep(n)):
            continue
        for level, at in steps.items():
            if q.start <= local(n.number, at) <= q.end:
                c[level] += 1
    return {
        "total": c["sent"],
        "received": c["received"],
        "read": c["read"],
        "errors": c["failed"],
        "replied": c["replied"],
        "response_rate": ratio_pct(c["replied"], c["received"]),
    }


def brute_groups(world: World, q: Query, by: str) -> list[dict[str, Any]]:
    """The rows of ``by_<by>``: every number asked; the templates and regions that count
    anything in the period."""
    if by == "number":
        return [
            {"number": x, **brute_notifications(world, Query((x,), q.start, q.end))}
            for x in q.numbers
        ]
    key = {"template": lambda n: n.template, "region": lambda n: REGIONS[n.phone]}[by]
    rows = []
    for name in sorted({key(n) for n in world.notifications}):
        figures = brute_notifications(world, q, lambda n, name=name: key(n) == name)
        if any(figures[k] for k in ("total", "received", "read", "errors", "replied")):
            rows.append({by: name, **figures})
    return rows


def brute_surveys(world: World, q: Query) -> tuple[int, int, float | None]:
    def inside(number: str, at: int) -> bool:
        return number in q.numbers and q.start <= local(number, at) <= q.end

    shown = sum(1 for n, at in world.shown if inside(n, at))
    scores = [s for n, at, s in world.answered if inside(n, at)]
    return shown, len(scores), round(sum(scores) / len(scores), 2) if scores else None


async def check(storage: Storage, world: World, qs: list[Query]) -> None:
    await replay(storage, world)
    data = DataService(storage, ConfigCache(storage.configs))
    for q in qs:
        report = await data.service(q)
        assert report["totals"] == brute_service(world, q), q
        for point, bucket in zip(report["series"], q.buckets, strict=True):
            sub = Query(
                q.numbers, date.fromisoformat(bucket.days[0]), date.fromisoformat(bucket.days[-1])
            )
            assert {k: v for k, v in point.items() if k != "period"} == brute_service(world, sub)
        for row in report["by_number"]:
            one = Query((row.pop("number"),), q.start, q.end)
            assert row == brute_service(world, one)
        messages = await data.messages(q)
        assert messages["totals"] == brute_messages(world, q)
        for month in messages["months"]:
            assert (month["mau"], month["mis"]) == brute_mau(world, q, month["month"])
        surveys = (await data.surveys(q, "csat"))["totals"]
        assert (surveys["shown"], surveys["answered"], surveys["csat"]) == brute_surveys(world, q)
        for by in ("number", "template", "region"):
            notify = await data.notifications(q, by)  # type: ignore[arg-type]
            assert notify["totals"] == brute_notifications(world, q), (q, by)
            for point, bucket in zip(notify["series"], q.buckets, strict=True):
                sub = Query(
                    q.numbers,
                    date.fromisoformat(bucket.days[0]),
                    date.fromisoformat(bucket.days[-1]),
                )
                assert point == {"period": bucket.period, **brute_notifications(world, sub)}
            assert notify[f"by_{by}"] == brute_groups(world, q, by), (q, by)


HYPOTHESIS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HYPOTHESIS
@given(world=worlds(), qs=st.lists(queries(), min_size=1, max_size=3))
def test_rollups_equal_brute_force_in_memory(world: World, qs: list[Query]) -> None:
    asyncio.run(check(memory_storage(), world, qs))


@pytest.mark.slow
@HYPOTHESIS
@given(world=worlds(), qs=st.lists(queries(), min_size=1, max_size=3))
def test_rollups_equal_brute_force_on_redis(
    redis_server: RedisServer, world: World, qs: list[Query]
) -> None:
    async def run() -> None:
        redis_server.flushall()
        storage = redis_storage(redis_server.url, partitions=8)
        try:
            await check(storage, world, qs)
        finally:
            await storage.close()

    asyncio.run(run())
