"""Ticket statuses and transitions (R-DESK-1): every allowed and refused transition."""

from __future__ import annotations

import pytest

from flow_engine.domain.tickets import (
    CLOSING_STATUSES,
    Ticket,
    TicketStateError,
    TicketStatus,
    ticket_id_for,
)
from flow_engine.errors import Conflict

S = TicketStatus
ANA = "ana@example.com"
BETO = "beto@example.com"
CLOSERS = [S.CLOSED_BY_ATTENDANT, S.CLOSED_BY_CONTACT, S.CLOSED_BY_INACTIVITY, S.TRANSFERRED]


def waiting(priority: int = 0) -> Ticket:
    return Ticket.open(
        id="t_1",
        number="100",
        contact="5491100000001",
        contact_name="Ana",
        queue="Ventas",
        attendants=[ANA, BETO],
        priority=priority,
        now=10.0,
    )


def assigned() -> Ticket:
    return waiting().assign(ANA, 20.0)


def closed(status: TicketStatus) -> Ticket:
    return waiting().close(status, 30.0, by=ANA)


def test_open_waits_and_records_the_transition() -> None:
    t = waiting(priority=3)
    assert t.status == S.WAITING and t.is_open
    assert (t.created_at, t.updated_at, t.last_activity_at) == (10.0, 10.0, 10.0)
    assert [(x.at, x.status, x.by) for x in t.transitions] == [(10.0, S.WAITING, None)]
    assert t.priority == 3 and t.attendant is None and t.transcript == []
    assert t.version == 0 and t.transferred_from is None


def test_ticket_ids_are_deterministic() -> None:
    a = ticket_id_for("100", "549", "wamid.1")
    assert a == ticket_id_for("100", "549", "wamid.1")
    assert a.startswith("t_") and len(a) == 22
    assert int(a[2:], 16) >= 0
    others = {ticket_id_for("100", "549", "wamid.2"), ticket_id_for("101", "549", "wamid.1")}
    assert len({a, *others}) == 3


def test_take_a_waiting_ticket() -> None:
    before = waiting()
    t = before.assign(ANA, 20.0)
    assert t.status == S.ASSIGNED and t.attendant == ANA and t.assigned_at == 20.0
    assert t.transitions[-1].model_dump() == {"at": 20.0, "status": S.ASSIGNED, "by": ANA}
    assert t.updated_at == 20.0
    assert before.status == S.WAITING and len(before.transitions) == 1  # unchanged


def test_taking_again_as_the_same_attendant_changes_nothing() -> None:
    t = assigned()
    assert t.assign(ANA, 25.0) is t


def test_another_attendant_cannot_take_an_assigned_ticket() -> None:
    with pytest.raises(TicketStateError) as info:
        assigned().assign(BETO, 25.0)
    assert info.value.status == 409
    assert info.value.details == {
        "ticket_id": "t_1",
        "status": "assigned",
        "attendant": ANA,  # who holds it, as the ticket calls them
        "action": "take",
    }
    assert isinstance(info.value, Conflict)


@pytest.mark.parametrize("status", CLOSERS)
def test_a_closed_ticket_cannot_be_taken(status: TicketStatus) -> None:
    with pytest.raises(TicketStateError):
        closed(status).assign(ANA, 40.0)


@pytest.mark.parametrize("status", CLOSERS)
@pytest.mark.parametrize("start", ["waiting", "assigned"])
def test_open_tickets_close_with_every_closing_status(start: str, status: TicketStatus) -> None:
    t = waiting() if start == "waiting" else assigned()
    c = t.close(status, 30.0, by=BETO)
    assert c.status == status and not c.is_open
    assert c.closed_at == 30.0 and c.updated_at == 30.0
    assert c.transitions[-1].model_dump() == {"at": 30.0, "status": status, "by": BETO}
    assert len(c.transitions) == len(t.transitions) + 1


@pytest.mark.parametrize("first", CLOSERS)
@pytest.mark.parametrize("second", CLOSERS)
def test_closing_a_closed_ticket_is_refused(first: TicketStatus, second: TicketStatus) -> None:
    with pytest.raises(TicketStateError, match="already"):
        closed(first).close(second, 40.0)


@pytest.mark.parametrize("status", [S.WAITING, S.ASSIGNED])
def test_close_takes_only_closing_statuses(status: TicketStatus) -> None:
    assert status not in CLOSING_STATUSES
    with pytest.raises(ValueError, match="closing status"):
        waiting().close(status, 30.0)


@pytest.mark.parametrize("start", ["waiting", "assigned"])
def test_transfer_closes_the_old_ticket_and_opens_a_new_one(start: str) -> None:
    t = waiting(priority=7) if start == "waiting" else waiting(priority=7).assign(ANA, 20.0)
    old, new = t.transfer_to("t_2", queue="Soporte", attendants=[BETO], now=50.0, by=ANA)
    assert old.status == S.TRANSFERRED and old.transferred_to == "t_2" and old.closed_at == 50.0
    assert old.transitions[-1].model_dump() == {"at": 50.0, "status": S.TRANSFERRED, "by": ANA}
    assert new.id == "t_2" and new.status == S.WAITING and new.queue == "Soporte"
    assert new.attendants == [BETO] and new.priority == 7 and new.transferred_from == t.id
    assert (new.number, new.contact, new.contact_name) == (t.number, t.contact, t.contact_name)
    assert new.created_at == 50.0 and new.attendant is None and new.transcript == []


@pytest.mark.parametrize("status", CLOSERS)
def test_a_closed_ticket_cannot_be_transferred(status: TicketStatus) -> None:
    with pytest.raises(TicketStateError):
        closed(status).transfer_to("t_2", queue="Soporte", attendants=[], now=50.0)


def test_messages_append_with_their_timestamps() -> None:
    t = assigned()
    t = t.with_message("m1", "contact", "hola", 21.0)
    t = t.with_message("m2", "attendant", "¿en qué le ayudo?", 22.0, attendant=ANA)
    t = t.with_message(
        "m3", "contact", "", 23.0, kind="image", media={"id": "media-1", "mime_type": "image/jpeg"}
    )
    assert [(m.id, m.at, m.sender) for m in t.transcript] == [
        ("m1", 21.0, "contact"),
        ("m2", 22.0, "attendant"),
        ("m3", 23.0, "contact"),
    ]
    assert t.transcript[1].attendant == ANA and t.transcript[0].kind == "text"
    assert t.transcript[2].media == {"id": "media-1", "mime_type": "image/jpeg"}
    assert t.last_activity_at == 23.0 and t.updated_at == 23.0
    assert t.status == S.ASSIGNED and len(t.transitions) == 2  # messages are not transitions


def test_appending_a_message_twice_changes_nothing() -> None:
    t = waiting().with_message("m1", "bot", "En un tiempo estaré disponible", 11.0)
    again = t.with_message("m1", "bot", "other text", 12.0)
    assert again is t
    assert [m.text for m in again.transcript] == ["En un tiempo estaré disponible"]
    assert again.last_activity_at == 11.0


@pytest.mark.parametrize("status", CLOSERS)
def test_a_closed_ticket_takes_no_new_message(status: TicketStatus) -> None:
    t = waiting().with_message("m1", "contact", "hola", 11.0).close(status, 30.0)
    with pytest.raises(TicketStateError):
        t.with_message("m2", "attendant", "hola", 31.0, attendant=ANA)
    assert t.with_message("m1", "contact", "hola", 31.0) is t  # a replay is still fine


def test_tickets_round_trip_through_json() -> None:
    t = assigned().with_message("m1", "contact", "hola", 21.0).close(S.CLOSED_BY_CONTACT, 30.0)
    assert Ticket.model_validate_json(t.model_dump_json()) == t
