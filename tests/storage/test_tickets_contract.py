"""The ticket store contract, on memory, a real redis-server and a Redis Cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from flow_engine.domain.tickets import Ticket, TicketStateError, TicketStatus
from flow_engine.errors import NotFound, VersionConflict
from flow_engine.storage.memory import memory_storage
from flow_engine.storage.memory_tickets import MemoryTickets
from flow_engine.storage.redis_backend import RedisBackend
from flow_engine.storage.redis_tickets import RedisTickets
from flow_engine.storage.tickets import TicketStore
from tests.conftest import STORES, store_url

S = TicketStatus
NUMBER, OTHER = "100000000000001", "100000000000002"
ANA = "ana@example.com"


@pytest.fixture(params=STORES)
async def tickets(request: pytest.FixtureRequest) -> AsyncIterator[TicketStore]:
    if request.param == "memory":
        yield MemoryTickets(memory_storage().backend)
        return
    backend = RedisBackend.from_url(store_url(request, request.param), partitions=8)
    await backend.connect()
    yield RedisTickets(backend)
    await backend.close()


def ticket(
    n: int,
    *,
    number: str = NUMBER,
    contact: str | None = None,
    queue: str = "Ventas",
    priority: int = 0,
) -> Ticket:
    return Ticket.open(
        id=f"t_{n:04d}",
        number=number,
        contact=contact or f"54911000{n:05d}",
        contact_name=f"Contact {n}",
        queue=queue,
        attendants=[ANA],
        priority=priority,
        now=1000.0 + n,
    )


async def test_create_then_get(tickets: TicketStore) -> None:
    t = ticket(1, priority=2)
    assert await tickets.create(t) == t
    assert await tickets.get(t.id) == t
    assert await tickets.get("t_missing") is None


async def test_create_is_idempotent(tickets: TicketStore) -> None:
    first = await tickets.create(ticket(1))
    again = await tickets.create(ticket(1).model_copy(update={"queue": "Soporte"}))
    assert again == first and again.queue == "Ventas"
    assert [t.id for t in await tickets.list()] == [first.id]


async def test_open_for_finds_the_contacts_open_ticket(tickets: TicketStore) -> None:
    t = await tickets.create(ticket(1, contact="549"))
    assert await tickets.open_for(NUMBER, "549") == t
    assert await tickets.open_for(OTHER, "549") is None
    assert await tickets.open_for(NUMBER, "548") is None
    assigned = await tickets.update(t.id, lambda x: x.assign(ANA, 2000.0))
    assert await tickets.open_for(NUMBER, "549") == assigned
    await tickets.update(t.id, lambda x: x.close(S.CLOSED_BY_CONTACT, 2001.0))
    assert await tickets.open_for(NUMBER, "549") is None


async def test_a_contact_has_one_open_ticket_per_number(tickets: TicketStore) -> None:
    await tickets.create(ticket(1, contact="549"))
    with pytest.raises(TicketStateError):
        await tickets.create(ticket(2, contact="549"))
    assert await tickets.get("t_0002") is None
    # on another number, or once the first is closed, a new one opens
    await tickets.create(ticket(3, contact="549", number=OTHER))
    await tickets.update("t_0001", lambda x: x.close(S.CLOSED_BY_ATTENDANT, 2000.0))
    await tickets.create(ticket(2, contact="549"))
    assert (await tickets.open_for(NUMBER, "549")) == await tickets.get("t_0002")


async def test_update_saves_a_new_version(tickets: TicketStore) -> None:
    t = await tickets.create(ticket(1))
    saved = await tickets.update(t.id, lambda x: x.with_message("m1", "contact", "hola", 1500.0))
    assert saved.version == 1 and [m.text for m in saved.transcript] == ["hola"]
    assert await tickets.get(t.id) == saved
    saved = await tickets.update(t.id, lambda x: x.assign(ANA, 1501.0))
    assert saved.version == 2 and saved.status == S.ASSIGNED
    assert await tickets.get(t.id) == saved


async def test_update_that_changes_nothing_saves_nothing(tickets: TicketStore) -> None:
    t = await tickets.create(ticket(1))
    t = await tickets.update(t.id, lambda x: x.with_message("m1", "contact", "hola", 1500.0))
    again = await tickets.update(t.id, lambda x: x.with_message("m1", "contact", "hola", 1600.0))
    assert again == t and again.version == 1


async def test_update_of_a_missing_ticket_is_not_found(tickets: TicketStore) -> None:
    with pytest.raises(NotFound):
        await tickets.update("t_missing", lambda x: x)


async def test_update_lets_the_changes_error_through(tickets: TicketStore) -> None:
    t = await tickets.create(ticket(1))
    await tickets.update(t.id, lambda x: x.close(S.CLOSED_BY_ATTENDANT, 1500.0))
    with pytest.raises(TicketStateError):
        await tickets.update(t.id, lambda x: x.close(S.CLOSED_BY_ATTENDANT, 1600.0))
    stored = await tickets.get(t.id)
    assert stored is not None and stored.version == 1


async def test_update_may_not_change_a_tickets_identity(tickets: TicketStore) -> None:
    t = await tickets.create(ticket(1))
    with pytest.raises(ValueError, match="number"):
        await tickets.update(t.id, lambda x: x.model_copy(update={"number": OTHER}))


async def test_concurrent_updates_all_land(tickets: TicketStore) -> None:
    t = await tickets.create(ticket(1))

    async def append(i: int) -> None:
        await tickets.update(
            t.id, lambda x: x.with_message(f"m{i}", "contact", f"text {i}", 1500.0 + i)
        )

    await asyncio.gather(*(append(i) for i in range(6)))
    stored = await tickets.get(t.id)
    assert stored is not None and stored.version == 6
    assert sorted(m.id for m in stored.transcript) == [f"m{i}" for i in range(6)]


async def test_a_save_based_on_a_stale_version_is_refused(tickets: TicketStore) -> None:
    """Another writer saves between our load and our save: our update retries on the new
    version instead of overwriting it."""
    t = await tickets.create(ticket(1))
    calls = 0
    raced = False

    def change(x: Ticket) -> Ticket:
        nonlocal calls
        calls += 1
        return x.with_message(f"late{calls}", "bot", "late", 1600.0)

    original_get = tickets.get

    async def racing_get(ticket_id: str) -> Ticket | None:
        nonlocal raced
        loaded = await original_get(ticket_id)
        if not raced:  # someone else saves right after our first load
            raced = True
            await TicketStore.update(
                tickets, ticket_id, lambda x: x.with_message("other", "bot", "o", 1550.0)
            )
        return loaded

    tickets.get = racing_get  # type: ignore[method-assign]
    saved = await tickets.update(t.id, change)
    assert calls == 2
    assert [m.id for m in saved.transcript] == ["other", "late2"] and saved.version == 2


async def test_update_gives_up_after_ten_lost_races(tickets: TicketStore) -> None:
    t = await tickets.create(ticket(1))
    stale = t  # every attempt loads this old version, as if every save raced another

    async def stale_get(ticket_id: str) -> Ticket | None:
        return stale

    await tickets.update(t.id, lambda x: x.assign(ANA, 1500.0))  # stored is now version 1
    tickets.get = stale_get  # type: ignore[method-assign]
    with pytest.raises(VersionConflict):
        await tickets.update(t.id, lambda x: x.with_message("m", "bot", "x", 1600.0))


async def test_list_newest_first_with_filters(tickets: TicketStore) -> None:
    await tickets.create(ticket(1, queue="Ventas"))
    await tickets.create(ticket(2, queue="Soporte"))
    await tickets.create(ticket(3, queue="Ventas", number=OTHER))
    await tickets.create(ticket(4, queue="Ventas"))
    await tickets.update("t_0004", lambda x: x.assign(ANA, 2000.0))
    await tickets.update("t_0002", lambda x: x.close(S.CLOSED_BY_INACTIVITY, 2000.0))

    async def ids(**filters: object) -> list[str]:
        return [t.id for t in await tickets.list(**filters)]  # type: ignore[arg-type]

    assert await ids() == ["t_0004", "t_0003", "t_0002", "t_0001"]
    assert await ids(number=NUMBER) == ["t_0004", "t_0002", "t_0001"]
    assert await ids(number=OTHER) == ["t_0003"]
    assert await ids(queue="Ventas") == ["t_0004", "t_0003", "t_0001"]
    assert await ids(queue="ventas", number=NUMBER) == ["t_0004", "t_0001"]
    assert await ids(status="waiting") == ["t_0003", "t_0001"]
    assert await ids(status="waiting", number=NUMBER) == ["t_0001"]
    assert await ids(status="assigned", number=NUMBER) == ["t_0004"]
    assert await ids(status="closed_by_inactivity", number=NUMBER) == ["t_0002"]
    assert await ids(status="closed_by_inactivity", number=NUMBER, queue="Ventas") == []
    assert await ids(status="waiting", number=NUMBER, queue="Ventas") == ["t_0001"]
    assert await ids(number="999") == []


async def test_list_pages(tickets: TicketStore) -> None:
    for n in range(1, 8):
        await tickets.create(ticket(n, queue="Ventas" if n % 2 else "Soporte"))
    all_ids = [f"t_{n:04d}" for n in range(7, 0, -1)]
    assert [t.id for t in await tickets.list(limit=3)] == all_ids[:3]
    assert [t.id for t in await tickets.list(limit=3, offset=3)] == all_ids[3:6]
    assert [t.id for t in await tickets.list(number=NUMBER, limit=3, offset=6)] == all_ids[6:]
    assert [t.id for t in await tickets.list(queue="Ventas", limit=2, offset=1)] == [
        "t_0005",
        "t_0003",
    ]
    assert await tickets.list(offset=10) == []
    assert await tickets.list(limit=0) == []


async def test_list_returns_whole_tickets(tickets: TicketStore) -> None:
    t = await tickets.create(ticket(1))
    t = await tickets.update(t.id, lambda x: x.with_message("m1", "contact", "hola", 1500.0))
    (listed,) = await tickets.list(number=NUMBER)
    assert listed == t


async def test_purge_removes_only_tickets_closed_before_the_cutoff(tickets: TicketStore) -> None:
    for n in (1, 2, 3):
        await tickets.create(ticket(n))
    await tickets.update("t_0001", lambda x: x.close(S.CLOSED_BY_ATTENDANT, 2000.0))
    await tickets.update("t_0002", lambda x: x.close(S.CLOSED_BY_CONTACT, 4000.0))
    assert await tickets.purge(closed_before=3000.0) == 1
    assert await tickets.get("t_0001") is None
    assert (await tickets.get("t_0002")) is not None  # closed after the cutoff
    assert (await tickets.get("t_0003")) is not None  # still open
    assert await tickets.purge(closed_before=3000.0) == 0
