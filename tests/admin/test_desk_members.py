"""The attendant API under per-member authorization: a member with the desk module sees
and acts on tickets of their numbers only, and always as themselves."""

from __future__ import annotations

from flow_engine.domain.tickets import Ticket
from flow_engine.web.state import TICKETS
from tests.admin.conftest import NUMBERS, AdminClient

A, B = NUMBERS[0], NUMBERS[1]
ANA = "ana@example.com"


async def open_ticket(admin: AdminClient, ticket_id: str, number: str) -> Ticket:
    return await admin.app[TICKETS].create(
        Ticket.open(
            id=ticket_id,
            number=number,
            contact="5491100000001",
            contact_name="Contacto",
            queue="Otros asuntos",
            attendants=[ANA],
            priority=0,
            now=1000.0,
        )
    )


async def test_a_member_attends_only_their_numbers_as_themselves(admin: AdminClient) -> None:
    await open_ticket(admin, "t_a", A)
    await open_ticket(admin, "t_b", B)
    ana = admin.as_token(await admin.member_token(ANA, ["desk"], [A]))

    listed = await ana.call("GET", "/tickets")
    assert listed.status == 200
    assert [t["id"] for t in listed.body["tickets"]] == ["t_a"]
    assert (await ana.call("GET", f"/tickets?number={B}")).status == 403
    assert (await ana.call("GET", "/tickets/t_b")).status == 403
    assert (await ana.call("POST", "/tickets/t_b/take", {})).status == 403

    as_other = await ana.call("POST", "/tickets/t_a/take", {"attendant": "beto@example.com"})
    assert as_other.status == 403
    assert as_other.body["error"]["details"]["field"] == "attendant"
    took = await ana.call("POST", "/tickets/t_a/take", {})
    assert took.status == 200, took.body
    assert took.body["ticket"]["attendant"] == ANA
    said = await ana.call("POST", "/tickets/t_a/messages", {"text": "Hola, soy Ana"})
    assert said.status == 201, said.body
    assert said.body["message"]["attendant"] == ANA


async def test_the_super_admin_names_the_attendant(admin: AdminClient) -> None:
    await open_ticket(admin, "t_a", A)
    missing = await admin.call("POST", "/tickets/t_a/take", {})
    assert missing.status == 422
    assert missing.body["error"]["details"][0]["field"] == "attendant"
    took = await admin.call("POST", "/tickets/t_a/take", {"attendant": ANA})
    assert took.status == 200 and took.body["ticket"]["attendant"] == ANA


async def test_the_super_admin_acts_only_as_an_attendant_of_the_number(
    admin: AdminClient,
) -> None:
    """A ticket taken in the name of someone who does not attend its number would lock
    every real attendant out of it: only its holder answers, transfers or closes it."""
    await open_ticket(admin, "t_a", A)
    await admin.member_token(ANA, ["desk"], [A])
    await admin.member_token("cfg@example.com", ["config"], [A])  # linked, no desk
    await admin.member_token("bea@example.com", ["desk"], [B])  # desk, another number
    for ghost in ("nobody@example.com", "cfg@example.com", "bea@example.com"):
        for action, body in [
            ("take", {"attendant": ghost}),
            ("messages", {"text": "hola", "attendant": ghost}),
            ("transfer", {"queue": "Otros asuntos", "attendant": ghost}),
            ("close", {"attendant": ghost}),
        ]:
            refused = await admin.call("POST", f"/tickets/t_a/{action}", body)
            assert refused.status == 422, (ghost, action, refused.body)
            [detail] = refused.body["error"]["details"]
            assert detail["field"] == "attendant" and detail["type"] == "not_an_attendant"
            assert ghost in detail["message"] and A in detail["message"]
    ticket = await admin.app[TICKETS].get("t_a")
    assert ticket is not None and ticket.status == "waiting" and ticket.version == 0

    took = await admin.call("POST", "/tickets/t_a/take", {"attendant": ANA})
    assert took.status == 200 and took.body["ticket"]["attendant"] == ANA
    closed = await admin.call("POST", "/tickets/t_a/close", {"attendant": ANA})
    assert closed.status == 200, closed.body


async def test_a_number_nobody_attends_takes_any_attendant(admin: AdminClient) -> None:
    """A fresh install (the README tour): no member attends the number, so the
    super-admin's attendants are plain e-mails, as in the number's queues."""
    await open_ticket(admin, "t_c", NUMBERS[2])
    await admin.member_token(ANA, ["desk"], [A])  # attends another number only
    await admin.member_token("cfg@example.com", ["config"], [NUMBERS[2]])  # no desk
    took = await admin.call("POST", "/tickets/t_c/take", {"attendant": "carla@example.com"})
    assert took.status == 200 and took.body["ticket"]["attendant"] == "carla@example.com"
