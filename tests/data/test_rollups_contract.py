"""The rollup store contract (storage/rollups.py), on memory and on a real redis-server:
facts ride in the conversation commit, the outbox completion and the ticket save, and
each is counted exactly once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from flow_engine.domain import facts as F
from flow_engine.domain.conversation import Conversation
from flow_engine.domain.facts import LANE, Facts
from flow_engine.domain.tickets import Ticket, TicketStatus
from flow_engine.engine import runtime as runtime_module
from flow_engine.engine.runtime import PartitionWorker
from flow_engine.storage.base import Storage
from flow_engine.storage.outbox import OutboxItem

NUMBER, OTHER = "100000000000001", "100000000000002"
ZONE = "America/Sao_Paulo"
D = LANE["d"]


def recent(days_ago: float = 1.0) -> float:
    return time.time() - days_ago * 86400


def day_of(ts: float, zone: str = ZONE) -> str:
    return F.local_day(ts, zone)


async def commit(storage: Storage, partition: int, contact: str, facts: Facts | None) -> None:
    conv = await storage.conversations.load(partition, NUMBER, contact) or Conversation(
        number=NUMBER, contact=contact
    )
    await storage.conversations.commit(partition, conv, None, [], None, facts)


async def fold_all(storage: Storage, partitions: range = range(8)) -> None:
    for p in partitions:
        while await storage.rollups.fold(p) > 0:
            pass


async def test_commit_facts_are_folded_once(storage: Storage) -> None:
    at = recent()
    await commit(
        storage, 3, "5511900000001", F.message_received(NUMBER, "5511900000001", at, ZONE)
    )
    await commit(
        storage, 3, "5511900000002", F.message_received(NUMBER, "5511900000002", at, ZONE)
    )
    assert await storage.rollups.pending(3) == 2
    (before,) = (await storage.rollups.read([NUMBER], [day_of(at)]))[NUMBER]
    assert before.d[D["msg_in"]] == 0  # not folded yet
    assert await storage.rollups.fold(3) == 2
    assert await storage.rollups.fold(3) == 0
    assert await storage.rollups.pending(3) == 0
    (row,) = (await storage.rollups.read([NUMBER], [day_of(at)]))[NUMBER]
    assert row.d[D["msg_in"]] == 2
    month = F.month_of(day_of(at))
    assert await storage.rollups.actives([NUMBER], month, "mau") == 2
    assert await storage.rollups.actives([NUMBER], month, "mis") == 2


async def test_a_worker_folds_a_backlog_in_full_batches_and_stops_at_a_short_one(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full batch means more may wait: the worker folds again at once; a batch short of
    the limit emptied the stream, so the worker does not read it again to learn that."""
    monkeypatch.setattr(runtime_module, "FOLD_BATCH", 4)
    at = recent()
    contacts = [f"55119000001{i:02d}" for i in range(10)]
    for contact in contacts:
        await commit(storage, 5, contact, F.message_received(NUMBER, contact, at, ZONE))
    folded: list[int] = []
    fold = storage.rollups.fold

    async def counted(partition: int, limit: int) -> int:
        folded.append(await fold(partition, limit))
        return folded[-1]

    monkeypatch.setattr(storage.rollups, "fold", counted)
    worker = PartitionWorker(SimpleNamespace(owner="test", storage=storage), 5)  # type: ignore[arg-type]
    await worker.fold_facts()
    assert folded == [4, 4, 2]
    assert await storage.rollups.pending(5) == 0
    (row,) = (await storage.rollups.read([NUMBER], [day_of(at)]))[NUMBER]
    assert row.d[D["msg_in"]] == 10

    folded.clear()
    for contact in contacts[:4]:  # exactly a batch: one more read finds the stream empty
        await commit(storage, 5, contact, F.message_received(NUMBER, contact, at, ZONE))
    await worker.fold_facts()
    assert folded == [4, 0]
    (row,) = (await storage.rollups.read([NUMBER], [day_of(at)]))[NUMBER]
    assert row.d[D["msg_in"]] == 14


async def test_concurrent_folds_count_each_fact_once(storage: Storage) -> None:
    at = recent()
    for i in range(40):
        contact = f"55119000000{i:02d}"
        await commit(storage, 1, contact, F.message_received(NUMBER, contact, at, ZONE))
    folded = await asyncio.gather(*(storage.rollups.fold(1, limit=15) for _ in range(4)))
    assert sum(folded) >= 15
    await fold_all(storage, range(1, 2))
    (row,) = (await storage.rollups.read([NUMBER], [day_of(at)]))[NUMBER]
    assert row.d[D["msg_in"]] == 40


async def test_the_day_is_the_local_day_of_the_number(storage: Storage) -> None:
    # 01:30 UTC is still the day before in São Paulo (UTC-3)
    today = datetime.now(UTC).date() - timedelta(days=2)
    at = datetime(today.year, today.month, today.day, 1, 30, tzinfo=UTC).timestamp()
    await commit(
        storage, 0, "5511900000001", F.message_received(NUMBER, "5511900000001", at, ZONE)
    )
    await fold_all(storage)
    utc_day, local = today.isoformat(), (today - timedelta(days=1)).isoformat()
    rows = (await storage.rollups.read([NUMBER], [local, utc_day]))[NUMBER]
    assert [r.d[D["msg_in"]] for r in rows] == [1, 0]


async def test_a_completion_counts_its_send_once(storage: Storage) -> None:
    item = OutboxItem(NUMBER, "5511900000001", "wamid.in.1:0", "send", {"type": "text"})
    conv = Conversation(number=NUMBER, contact="5511900000001")
    result = await storage.conversations.commit(2, conv, None, [item])
    (entry,) = result.outbox
    at = recent()
    sent = F.message_sent(NUMBER, "5511900000001", "attendant", at, ZONE)
    await storage.outbox.complete(entry, "wamid.out.1", sent)
    await storage.outbox.complete(entry, "wamid.out.1", sent)  # a retried completion
    await fold_all(storage)
    (row,) = (await storage.rollups.read([NUMBER], [day_of(at)]))[NUMBER]
    assert row.d[D["msg_attendant"]] == 1
    assert row.d[D["msg_bot"]] == 0


def ticket(n: int, at: float, queue: str = "Ventas") -> Ticket:
    return Ticket.open(
        id=f"t_{n}",
        number=NUMBER,
        contact=f"55119000{n:05d}",
        contact_name="Ana",
        queue=queue,
        attendants=["ana@example.com"],
        now=at,
        timezone=ZONE,
    )


async def test_ticket_facts_are_applied_with_the_ticket(storage: Storage) -> None:
    at = recent(2)
    t = await storage.tickets.create(ticket(1, at))
    await storage.tickets.create(ticket(1, at))  # the same ticket again: nothing
    await storage.tickets.update(t.id, lambda x: x.assign("ana@example.com", at + 60))
    await storage.tickets.update(t.id, lambda x: x.with_message("m1", "contact", "hola", at + 70))
    await storage.tickets.update(
        t.id,
        lambda x: x.with_message("m2", "attendant", "¿sí?", at + 100, attendant="ana@example.com"),
    )
    await storage.tickets.update(
        t.id, lambda x: x.close(TicketStatus.CLOSED_BY_ATTENDANT, at + 160, "ana@example.com")
    )
    (row,) = (await storage.rollups.read([NUMBER], [day_of(at)]))[NUMBER]
    d = row.d
    assert (d[D["offered"]], d[D["closed"]], d[D["attended"]]) == (1, 1, 1)
    assert (d[D["tmf_ms"]], d[D["tmf_n"]]) == (60_000, 1)
    assert (d[D["fr_ms"]], d[D["fr_n"]]) == (40_000, 1)
    assert (d[D["rt_ms"]], d[D["rt_n"]]) == (30_000, 1)
    assert (d[D["aht_ms"]], d[D["aht_n"]]) == (100_000, 1)
    assert row.q["Ventas"][LANE["q"]["offered"]] == 1
    assert set(row.q) == {"Ventas"}


async def test_blocks_keep_apart_queues_and_numbers(storage: Storage) -> None:
    at = recent(3)
    await storage.tickets.create(ticket(1, at, "Ventas"))
    await storage.tickets.create(ticket(2, at, "Soporte"))
    await storage.tickets.create(ticket(3, at, "Soporte"))
    rows = await storage.rollups.read([NUMBER, OTHER], [day_of(at)])
    q = rows[NUMBER][0].q
    assert {name: lanes[0] for name, lanes in q.items()} == {"Ventas": 1, "Soporte": 2}
    assert rows[OTHER][0].d == [0] * F.WIDTH["d"] and rows[OTHER][0].q == {}


async def test_lanes_never_go_below_zero(storage: Storage) -> None:
    at = recent()
    minus = Facts(NUMBER, [F.Increment("d", day_of(at), "", D["offered"], -3)])
    await commit(storage, 0, "5511900000001", minus)
    plus = Facts(NUMBER, [F.Increment("d", day_of(at), "", D["offered"], 2)])
    await commit(storage, 0, "5511900000001", plus)
    await fold_all(storage)
    (row,) = (await storage.rollups.read([NUMBER], [day_of(at)]))[NUMBER]
    assert row.d[D["offered"]] == 2


async def test_days_past_the_retention_are_not_kept(storage: Storage) -> None:
    old = recent(F.KEPT_DAYS + 40)  # Redis keeps a month until KEPT_DAYS after its last day
    await commit(
        storage, 0, "5511900000001", F.message_received(NUMBER, "5511900000001", old, ZONE)
    )
    await fold_all(storage)
    (row,) = (await storage.rollups.read([NUMBER], [day_of(old)]))[NUMBER]
    assert row.d[D["msg_in"]] == 0


async def test_active_contacts_union_across_numbers(storage: Storage) -> None:
    at = recent()
    numbers = [NUMBER, OTHER, "100000000000003"]
    for k, number in enumerate(numbers):
        sheet = F.Sheet(number, ZONE)
        for i in range(k * 50, k * 50 + 100):  # overlapping ranges: 200 distinct in all
            sheet.active("mau", f"5511{i:07d}", at)
        await commit(storage, 0, "5511900000001", None)
        conv = Conversation(number=number, contact=f"x{k}")
        await storage.conversations.commit(0, conv, None, [], None, sheet.facts)
    await fold_all(storage)
    month = F.month_of(day_of(at))
    assert await storage.rollups.actives(numbers[:1], month, "mau") == 100
    union = await storage.rollups.actives(numbers, month, "mau")
    assert abs(union - 200) <= 2  # exact in memory; HyperLogLog on Redis (< 1 %)
    assert await storage.rollups.actives(numbers, month, "mis") == 0
    assert await storage.rollups.actives([], month, "mau") == 0


async def test_facts_applied_once_by_their_mark(storage: Storage) -> None:
    """What a notification status adds (``notify/facts.py``): applied at once, and a
    second time with the same mark changes nothing (a redelivered status webhook)."""
    at = recent()
    facts = Facts(NUMBER, [F.Increment("d", day_of(at), "", D["offered"], 1)])
    assert await storage.rollups.apply_once("wamid.1:delivered", facts) is True
    assert await storage.rollups.apply_once("wamid.1:delivered", facts) is False
    assert await storage.rollups.apply_once("wamid.2:delivered", facts) is True
    (row,) = (await storage.rollups.read([NUMBER], [day_of(at)]))[NUMBER]
    assert row.d[D["offered"]] == 2
