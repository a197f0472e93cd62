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
