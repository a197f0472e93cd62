"""The attendant API (R-DESK-2) over HTTP: auth, listing, reading, taking, answering,
transferring and closing tickets, and the events each action queues for the flow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from flow_engine.domain.inbound import InboundMessage
from flow_engine.domain.tickets import Ticket, TicketStatus, ticket_id_for
from flow_engine.engine import events
from flow_engine.gateway.recording import RecordingGateway
from flow_engine.settings import Settings
from flow_engine.storage.base import Storage
from flow_engine.storage.keys import partition_of
from flow_engine.storage.memory import memory_storage
from flow_engine.storage.tickets import TicketStore
from flow_engine.web.app import create_app
from flow_engine.web.state import TICKETS

TOKEN = "desk-admin-token"
PARTITIONS = 4
NUMBER = "100000000000001"
CONTACT = "5491100000001"
ANA, BETO, CARLA = "ana@example.com", "beto@example.com", "carla@example.com"
CONFIG = {
    "phone_number_id": NUMBER,
    "display_phone_number": "15550000001",
    "queue": {
        "queues": [
            {"name": "Ventas", "attendants": [ANA]},
            {"name": "Soporte", "attendants": [BETO, CARLA]},
        ],
        "default_queue": {"attendants": [CARLA]},
    },
}
ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def make_app(settings: Settings, storage: Storage) -> web.Application:
    return create_app(settings, storage=storage, gateway=RecordingGateway())


@dataclass
class Desk:
    client: TestClient[Any, Any]
    app: web.Application
    storage: Storage

    @property
    def tickets(self) -> TicketStore:
        return self.app[TICKETS]

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any]]:
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": h}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with self.client.request(method, "/api/v1" + path, **kwargs) as resp:
            return resp.status, await resp.json()

    async def open(
        self,
        n: int = 1,
        *,
        queue: str = "Ventas",
        priority: int = 0,
        contact: str = CONTACT,
        taken_by: str | None = None,
    ) -> Ticket:
        ticket = Ticket.open(
            id=f"t_{n:04d}",
            number=NUMBER,
            contact=contact,
            contact_name="Ana Contact",
            queue=queue,
            attendants=[ANA],
            priority=priority,
            now=1000.0 + n,
        )
        return await self.tickets.create(
            ticket if taken_by is None else ticket.assign(taken_by, 1000.5 + n)
        )

    async def queued(self, contact: str = CONTACT) -> list[InboundMessage]:
        p = partition_of(NUMBER, contact, PARTITIONS)
        return [e.message for e in await self.storage.queue.read(p, "0-0", 10, 0)]


@pytest.fixture
async def desk(aiohttp_client: ClientFactory) -> Desk:
    settings = Settings.model_validate({"admin_token": TOKEN, "partitions": PARTITIONS})
    storage = memory_storage()
    await storage.configs.put(NUMBER, CONFIG)
    # keep the engine's partition workers off: the events must stay in the queue to be read
    for p in range(PARTITIONS):
        assert await storage.leases.acquire(p, "desk-tests", 3_600_000)
    app = make_app(settings, storage)
    return Desk(await aiohttp_client(app), app, storage)


ROUTES = [
    ("GET", "/tickets", None),
    ("GET", "/tickets/t_0001", None),
    ("POST", "/tickets/t_0001/take", {"attendant": ANA}),
    ("POST", "/tickets/t_0001/messages", {"text": "hola", "attendant": ANA}),
    ("POST", "/tickets/t_0001/transfer", {"queue": "Soporte"}),
    ("POST", "/tickets/t_0001/close", {"attendant": ANA}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", f"bearer{TOKEN}"]
)
async def test_every_route_needs_the_admin_token(
    desk: Desk, method: str, path: str, body: Any, authorization: str | None
) -> None:
    await desk.open()
    headers = {} if authorization is None else {"Authorization": authorization}
    async with desk.client.request(method, "/api/v1" + path, json=body, headers=headers) as r:
        assert r.status == 401
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        error = (await r.json())["error"]
    assert error["code"] == "unauthorized" and error["details"] == {"header": "Authorization"}
    assert await desk.queued() == []
    t = await desk.tickets.get("t_0001")
    assert t is not None and t.version == 0  # nothing happened


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_every_route_answers_with_the_token(
    desk: Desk, method: str, path: str, body: Any
) -> None:
    await desk.open(taken_by=ANA)
    status, _ = await desk.call(method, path, body)
    assert status in (200, 201)


async def test_an_empty_admin_token_lets_nobody_in(aiohttp_client: ClientFactory) -> None:
    storage = memory_storage()
    client = await aiohttp_client(make_app(Settings(), storage))
    for header in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer x"}):
        async with client.get("/api/v1/tickets", headers=header) as r:
            assert r.status == 401


async def test_list_filters_and_summaries(desk: Desk) -> None:
    await desk.open(1, queue="Ventas")
    await desk.open(2, queue="Soporte", contact="5491100000002")
    await desk.open(3, queue="Ventas", contact="5491100000003")
    await desk.tickets.update("t_0003", lambda t: t.assign(ANA, 2000.0))
    await desk.tickets.update("t_0001", lambda t: t.with_message("m1", "contact", "hola", 1500.0))

    async def ids(query: str) -> list[str]:
        status, body = await desk.call("GET", "/tickets" + query)
        assert status == 200, body
        return [t["id"] for t in body["tickets"]]

    assert await ids("") == ["t_0003", "t_0002", "t_0001"]
    assert await ids(f"?number={NUMBER}") == ["t_0003", "t_0002", "t_0001"]
    assert await ids("?number=999") == []
    assert await ids("?queue=Ventas") == ["t_0003", "t_0001"]
    assert await ids("?status=waiting") == ["t_0002", "t_0001"]
    assert await ids("?status=assigned&queue=Ventas") == ["t_0003"]
    assert await ids("?limit=1&offset=1") == ["t_0002"]
    _, body = await desk.call("GET", "/tickets?queue=Ventas&status=waiting")
    (summary,) = body["tickets"]
    assert "transcript" not in summary and "transitions" not in summary
    assert summary["messages"] == 1
    assert summary["status"] == "waiting" and summary["queue"] == "Ventas"
    assert summary["contact"] == CONTACT and summary["number"] == NUMBER
    assert summary["last_activity_at"] == 1500.0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?status=bogus", "status"),
        ("?limit=0", "limit"),
        ("?limit=1000", "limit"),
        ("?offset=-1", "offset"),
        ("?limit=abc", "limit"),
        ("?colour=red", "colour"),
    ],
)
async def test_list_refuses_bad_queries(desk: Desk, query: str, field: str) -> None:
    status, body = await desk.call("GET", "/tickets" + query)
    assert status == 422
    assert body["error"]["code"] == "validation_error"
    assert [d["field"] for d in body["error"]["details"]] == [field]


async def test_get_shows_transcript_and_transitions(desk: Desk) -> None:
    await desk.open(priority=2)
    await desk.tickets.update("t_0001", lambda t: t.with_message("m1", "contact", "hola", 1500.0))
    await desk.tickets.update("t_0001", lambda t: t.assign(ANA, 1600.0))
    status, body = await desk.call("GET", "/tickets/t_0001")
    assert status == 200
    t = body["ticket"]
    assert t["id"] == "t_0001" and t["status"] == "assigned" and t["priority"] == 2
    assert t["transcript"] == [
        {
            "id": "m1",
            "at": 1500.0,
            "sender": "contact",
            "text": "hola",
            "attendant": None,
            "kind": "text",
            "media": None,
        }
    ]
    assert t["transitions"] == [
        {"at": 1001.0, "status": "waiting", "by": None},
        {"at": 1600.0, "status": "assigned", "by": ANA},
    ]


async def test_take(desk: Desk) -> None:
    await desk.open()
    status, body = await desk.call(
        "POST", "/tickets/t_0001/take", {"attendant": "Ana@Example.com"}
    )
    assert status == 200
    t = body["ticket"]
    assert t["status"] == "assigned" and t["attendant"] == ANA and t["assigned_at"] > 1001.0
    again, body = await desk.call("POST", "/tickets/t_0001/take", {"attendant": ANA})
    assert again == 200 and body["ticket"]["version"] == 1  # the same attendant: no change
    status, body = await desk.call("POST", "/tickets/t_0001/take", {"attendant": BETO})
    assert status == 409 and body["error"]["code"] == "invalid_ticket_transition"
    stored = await desk.tickets.get("t_0001")
    assert stored is not None and stored.attendant == ANA


@pytest.mark.parametrize(
    ("raw", "status", "fields"),
    [
        (b"{", 400, None),
        (b"[1, 2]", 400, ["(body)"]),
        (b"", 422, ["attendant"]),
        (b'{"attendant": "not-an-email"}', 422, ["attendant"]),
        (b'{"attendant": "ana@example.com", "extra": 1}', 422, ["extra"]),
    ],
)
async def test_take_refuses_bad_bodies(
    desk: Desk, raw: bytes, status: int, fields: list[str] | None
) -> None:
    await desk.open()
    got, body = await desk.call("POST", "/tickets/t_0001/take", raw=raw)
    assert got == status
    assert body["error"]["code"] == ("bad_request" if status == 400 else "validation_error")
    if fields is not None:
        assert [d["field"] for d in body["error"]["details"]] == fields


async def test_a_message_joins_the_transcript_and_is_queued_for_the_contact(desk: Desk) -> None:
    await desk.open()
    await desk.call("POST", "/tickets/t_0001/take", {"attendant": ANA})
    status, body = await desk.call(
        "POST", "/tickets/t_0001/messages", {"text": "¿En qué le ayudo?", "attendant": ANA}
    )
    assert status == 201
    message = body["message"]
    assert message["sender"] == "attendant" and message["attendant"] == ANA
    assert message["text"] == "¿En qué le ayudo?" and message["at"] > 1001.0
    assert body["ticket"]["transcript"] == [message]
    assert body["ticket"]["last_activity_at"] == message["at"]
    (event,) = await desk.queued()
    assert event.type == "event" and event.event == events.DESK_MESSAGE
    assert event.data == {"ticket_id": "t_0001", "text": "¿En qué le ayudo?", "attendant": ANA}
    assert (event.number, event.contact) == (NUMBER, CONTACT)


async def test_a_retried_message_is_sent_once(desk: Desk) -> None:
    await desk.open(taken_by=ANA)
    body = {"text": "hola", "attendant": ANA}
    key = {"Idempotency-Key": "attempt-1"}
    first, a = await desk.call("POST", "/tickets/t_0001/messages", body, headers=key)
    second, b = await desk.call("POST", "/tickets/t_0001/messages", body, headers=key)
    assert (first, second) == (201, 201)
    assert a["message"] == b["message"] and a["message"]["id"] == "attempt-1"
    assert len(b["ticket"]["transcript"]) == 1
    assert len(await desk.queued()) == 1
    replayed, refusal = await desk.call(
        "POST", "/tickets/t_0001/messages", {**body, "attendant": "beto@example.com"}, headers=key
    )
    assert replayed == 409, refusal  # not told that Ana's answer was theirs
    assert "another attendant" in refusal["error"]["message"]
    other, _ = await desk.call("POST", "/tickets/t_0001/messages", body)  # no key: a new one
    assert other == 201
    assert len(await desk.queued()) == 2


async def test_only_the_attendant_holding_the_ticket_answers_it(desk: Desk) -> None:
    """Two attendants never answer one contact unawares: a waiting ticket is taken
    first, and one assigned to another attendant is refused."""
    await desk.open()
    body = {"text": "hola", "attendant": ANA}
    status, answer = await desk.call("POST", "/tickets/t_0001/messages", body)
    assert status == 409 and "take it first" in answer["error"]["message"]
    await desk.call("POST", "/tickets/t_0001/take", {"attendant": "bruno@example.com"})
    status, answer = await desk.call("POST", "/tickets/t_0001/messages", body)
    assert status == 409 and "assigned to another attendant" in answer["error"]["message"]
    assert answer["error"]["code"] == "invalid_ticket_transition"
    assert await desk.queued() == []
    ticket = await desk.tickets.get("t_0001")
    assert ticket is not None and ticket.transcript == []


async def test_only_the_holder_closes_or_transfers_an_assigned_ticket(desk: Desk) -> None:
    await desk.open(taken_by="bruno@example.com")
    for path, body in [
        ("/tickets/t_0001/take", {"attendant": ANA}),
        ("/tickets/t_0001/messages", {"text": "hola", "attendant": ANA}),
        ("/tickets/t_0001/close", {"attendant": ANA}),
        ("/tickets/t_0001/transfer", {"queue": "Soporte", "attendant": ANA}),
    ]:
        status, answer = await desk.call("POST", path, body)
        assert status == 409, (path, answer)
        assert "assigned to another attendant" in answer["error"]["message"]
        # the refusal names who holds it, as the ticket's own field does
        details = answer["error"]["details"]
        assert details["attendant"] == "bruno@example.com", (path, details)
        assert details["status"] == "assigned" and details["ticket_id"] == "t_0001"
    ticket = await desk.tickets.get("t_0001")
    assert ticket is not None and ticket.status == TicketStatus.ASSIGNED
    assert await desk.queued() == []
    status, _ = await desk.call("POST", "/tickets/t_0001/close", {})  # the super-admin may
    assert status == 200


async def test_messages_to_a_closed_ticket_are_refused(desk: Desk) -> None:
    await desk.open()
    await desk.tickets.update("t_0001", lambda t: t.close(TicketStatus.CLOSED_BY_CONTACT, 2000.0))
    status, body = await desk.call(
        "POST", "/tickets/t_0001/messages", {"text": "hola", "attendant": ANA}
    )
    assert status == 409 and body["error"]["code"] == "invalid_ticket_transition"
    assert await desk.queued() == []


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"text": "", "attendant": ANA}, ["text"]),
        ({"text": "   ", "attendant": ANA}, ["text"]),
        ({"text": "x" * 4097, "attendant": ANA}, ["text"]),
        ({"text": "hola"}, ["attendant"]),
        ({"text": 5, "attendant": ANA}, ["text"]),
    ],
)
async def test_messages_refuse_bad_bodies(
    desk: Desk, body: dict[str, Any], fields: list[str]
) -> None:
    await desk.open()
    status, answer = await desk.call("POST", "/tickets/t_0001/messages", body)
    assert status == 422
    assert [d["field"] for d in answer["error"]["details"]] == fields


async def test_an_overlong_idempotency_key_is_refused(desk: Desk) -> None:
    await desk.open()
    status, body = await desk.call(
        "POST",
        "/tickets/t_0001/messages",
        {"text": "hola", "attendant": ANA},
        headers={"Idempotency-Key": "k" * 201},
    )
    assert status == 400 and body["error"]["details"] == {"header": "Idempotency-Key"}


async def test_transfer_opens_a_ticket_in_the_other_queue(desk: Desk) -> None:
    await desk.open(priority=5)
    await desk.call("POST", "/tickets/t_0001/take", {"attendant": ANA})
    status, body = await desk.call(
        "POST", "/tickets/t_0001/transfer", {"queue": "soporte", "attendant": ANA}
    )
    assert status == 200, body
    old, new = body["ticket"], body["new_ticket"]
    new_id = ticket_id_for(NUMBER, CONTACT, "transfer:t_0001")
    assert old["status"] == "transferred" and old["transferred_to"] == new_id
    assert old["transitions"][-1]["by"] == ANA
    assert new["id"] == new_id and new["status"] == "waiting" and new["queue"] == "Soporte"
    assert new["attendants"] == [BETO, CARLA] and new["priority"] == 5
    assert new["transferred_from"] == "t_0001" and new["contact"] == CONTACT
    assert await desk.tickets.open_for(NUMBER, CONTACT) == await desk.tickets.get(new_id)
    (event,) = await desk.queued()
    assert event.event == events.TICKET_TRANSFERRED
    assert event.data == {"ticket_id": "t_0001", "new_ticket_id": new_id}
    # the default queue is a queue too
    status, body = await desk.call(
        "POST", f"/tickets/{new_id}/transfer", {"queue": "Otros asuntos"}
    )
    assert status == 200 and body["new_ticket"]["attendants"] == [CARLA]


async def test_transfer_twice_is_refused_and_posts_nothing_more(desk: Desk) -> None:
    await desk.open()
    first, _ = await desk.call("POST", "/tickets/t_0001/transfer", {"queue": "Soporte"})
    second, body = await desk.call("POST", "/tickets/t_0001/transfer", {"queue": "Soporte"})
    assert (first, second) == (200, 409)
    assert body["error"]["code"] == "invalid_ticket_transition"
    assert len(await desk.queued()) == 1
    assert len(await desk.tickets.list(number=NUMBER)) == 2


@pytest.mark.parametrize("queue", ["Marketing", "Ventas y Soporte"])
async def test_transfer_to_an_unknown_queue_is_refused(desk: Desk, queue: str) -> None:
    await desk.open()
    status, body = await desk.call("POST", "/tickets/t_0001/transfer", {"queue": queue})
    assert status == 422
    (detail,) = body["error"]["details"]
    assert detail["field"] == "queue" and queue in detail["message"]
    t = await desk.tickets.get("t_0001")
    assert t is not None and t.is_open
    assert await desk.queued() == []


async def test_transfer_on_an_unconfigured_number_names_the_queue(desk: Desk) -> None:
    await desk.tickets.create(
        Ticket.open(
            id="t_x",
            number="999",
            contact=CONTACT,
            contact_name="",
            queue="Ventas",
            attendants=[],
            now=1.0,
        )
    )
    status, body = await desk.call("POST", "/tickets/t_x/transfer", {"queue": "Ventas"})
    assert status == 422 and body["error"]["details"][0]["field"] == "queue"


async def test_close(desk: Desk) -> None:
    await desk.open()
    status, body = await desk.call("POST", "/tickets/t_0001/close", {"attendant": ANA})
    assert status == 200
    t = body["ticket"]
    assert t["status"] == "closed_by_attendant" and t["closed_at"] > 1001.0
    assert t["transitions"][-1]["by"] == ANA
    (event,) = await desk.queued()
    assert event.event == events.TICKET_CLOSED and event.data == {"ticket_id": "t_0001"}
    assert await desk.tickets.open_for(NUMBER, CONTACT) is None
    again, body = await desk.call("POST", "/tickets/t_0001/close", {"attendant": ANA})
    assert again == 409 and body["error"]["code"] == "invalid_ticket_transition"
    assert len(await desk.queued()) == 1


async def test_close_without_a_body(desk: Desk) -> None:
    await desk.open()
    status, body = await desk.call("POST", "/tickets/t_0001/close")
    assert status == 200 and body["ticket"]["transitions"][-1]["by"] is None


async def test_a_retried_close_still_tells_the_conversation(desk: Desk) -> None:
    """The close was saved but its event never posted (a crash in between): the retry
    answers 409 and posts the event."""
    await desk.open()
    await desk.tickets.update(
        "t_0001", lambda t: t.close(TicketStatus.CLOSED_BY_ATTENDANT, 2000.0, by=ANA)
    )
    status, _ = await desk.call("POST", "/tickets/t_0001/close", {"attendant": ANA})
    assert status == 409
    (event,) = await desk.queued()
    assert event.event == events.TICKET_CLOSED


async def test_a_retried_transfer_completes_the_transfer(desk: Desk) -> None:
    """The old ticket was closed as transferred but the new one was never opened."""
    await desk.open()
    new_id = ticket_id_for(NUMBER, CONTACT, "transfer:t_0001")
    await desk.tickets.update(
        "t_0001",
        lambda t: t.transfer_to(new_id, queue="Soporte", attendants=[BETO], now=2000.0)[0],
    )
    status, _ = await desk.call("POST", "/tickets/t_0001/transfer", {"queue": "Soporte"})
    assert status == 409
    new = await desk.tickets.get(new_id)
    assert new is not None and new.queue == "Soporte" and new.created_at == 2000.0
    (event,) = await desk.queued()
    assert event.data == {"ticket_id": "t_0001", "new_ticket_id": new_id}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES[1:])
async def test_unknown_tickets_are_not_found(
    desk: Desk, method: str, path: str, body: Any
) -> None:
    status, answer = await desk.call(method, path.replace("t_0001", "t_nope"), body)
    assert status == 404
    assert answer["error"]["code"] == "not_found"
    assert answer["error"]["details"] == {"ticket_id": "t_nope"}
