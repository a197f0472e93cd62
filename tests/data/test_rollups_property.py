"""Property: for random sequences of ticket, message and survey events on several numbers
in several time zones, every figure the data service answers from the rollups equals a
brute-force recomputation from the raw events, for random periods and number sets — on
memory and on Redis.

The brute force reads the events as they happened (datetimes in each number's zone)
and applies the definitions of docs/data.md directly; the service goes through the
facts, the ticket store's scripts, the commit's fact stream, the fold, the lanes and
the sums.
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
from flow_engine.domain.metrics import mean_s, ratio_pct
from flow_engine.domain.tickets import Ticket, TicketStatus
from flow_engine.engine.config_cache import ConfigCache
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


@dataclass
class World:
    tickets: list[RawTicket] = field(default_factory=list)
    received: list[tuple[str, str, int]] = field(default_factory=list)  # number, contact, at
    sent: list[tuple[str, str, int, str]] = field(default_factory=list)  # + source
    shown: list[tuple[str, int]] = field(default_factory=list)  # number, at (csat)
    answered: list[tuple[str, int, int]] = field(default_factory=list)  # number, at, score


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
worlds = st.builds(
    World,
    tickets=st.lists(raw_ticket(), max_size=8),
    received=st.lists(st.tuples(numbers, contacts, instants), max_size=12),
    sent=st.lists(
        st.tuples(numbers, contacts, instants, st.sampled_from(["bot", "attendant"])),
        max_size=12,
    ),
    shown=st.lists(st.tuples(numbers, instants), max_size=5),
    answered=st.lists(st.tuples(numbers, instants, st.integers(1, 5)), max_size=5),
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
    for p in range(8):
        while await storage.rollups.fold(p, limit=7) > 0:
            pass


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
    return {
        "received": received,
        "sent": bot + attendant,
        "sent_bot": bot,
        "sent_attendant": attendant,
        "sent_notification": 0,
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
    return len(mau), len(mis)


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


HYPOTHESIS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HYPOTHESIS
@given(world=worlds, qs=st.lists(queries(), min_size=1, max_size=3))
def test_rollups_equal_brute_force_in_memory(world: World, qs: list[Query]) -> None:
    asyncio.run(check(memory_storage(), world, qs))


@pytest.mark.slow
@HYPOTHESIS
@given(world=worlds, qs=st.lists(queries(), min_size=1, max_size=3))
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
