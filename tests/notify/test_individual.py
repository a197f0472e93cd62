"""Individual notifications end to end (R-NOTIFY-1/4), on memory and on Redis: the catalog
synced from the development gateway, checks before anything is sent, the send, statuses
from signed webhooks, and the reply that opens a ticket holding the extras."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flow_engine.devtools import webhooks
from tests.notify.conftest import NUMBER, OTHER, NotifyStack, StackFactory

CONTACT = "5491100000101"

PROMO: dict[str, Any] = {
    "to": "+54 9 11 0000-0101",
    "template": {"name": "promo_descuento", "language": "es"},
    "parameters": {
        "header": ["Ana"],
        "body": ["Ana", "15%", "31/12"],
        "buttons": {"0": ["ana15"]},
    },
}


async def test_catalog_is_synced_every_page_and_listed(stack: NotifyStack) -> None:
    r = await stack.api("GET", f"/numbers/{NUMBER}/templates/catalog")
    assert r.status == 200
    names = sorted((t["name"], t["language"], t["status"]) for t in r.body["templates"])
    assert ("promo_descuento", "es", "APPROVED") in names
    assert ("nueva_coleccion", "es", "PENDING") in names
    assert len(names) == 6  # three pages of two: every page of the cursor was read
    assert r.body["synced_at"] is not None
    number = await stack.api("GET", f"/numbers/{NUMBER}")
    assert number.body["waba_id"] == "100000000000000"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"parameters": {"header": ["Ana"], "body": ["Ana", "15%"], "buttons": {"0": ["x"]}}},
            "parameters.body",
        ),
        (
            {"parameters": {"body": ["Ana", "15%", "31/12"], "buttons": {"0": ["x"]}}},
            "parameters.header",
        ),
        (
            {"parameters": {"header": ["Ana"], "body": ["Ana", "15%", "31/12"]}},
            "parameters.buttons.0",
        ),
        (
            {
                "template": {"name": "recordatorio_cita", "language": "es"},
                "parameters": {"body": {"nombre": "Ana"}},
            },
            "parameters.body.fecha",
        ),
        (
            {
                "template": {"name": "pedido_enviado", "language": "es"},
                "parameters": {"header": ["https://x.example/p.png"], "body": ["A-1"]},
            },
            "parameters.header.0",
        ),
        ({"template": {"name": "no_existe", "language": "es"}}, "template.name"),
        ({"template": {"name": "nueva_coleccion", "language": "es"}}, "template.name"),
        ({"template": {"name": "promo_descuento", "language": "pt_BR"}}, "template.name"),
        ({"to": "12"}, "to"),
        ({"reply": {"queue": "Cocina"}}, "reply.queue"),
    ],
)
async def test_a_mismatch_is_a_422_naming_the_field_and_nothing_is_sent(
    stack: NotifyStack, change: dict[str, Any], field: str
) -> None:
    r = await stack.api("POST", f"/numbers/{NUMBER}/notifications", {**PROMO, **change})
    assert r.status == 422, r.body
    assert field in [d["field"] for d in r.body["error"]["details"]], r.body
    assert await stack.templates_sent() == []
    listed = await stack.api("GET", f"/numbers/{NUMBER}/notifications")
    assert listed.body["notifications"] == []


async def test_every_bad_field_is_named_in_one_422(stack: NotifyStack) -> None:
    body = {
        **PROMO,
        "to": "12",
        "parameters": {"header": ["Ana"], "body": ["Ana", "15%"], "buttons": {"0": ["x"]}},
        "reply": {"queue": "Cocina"},
    }
    r = await stack.api("POST", f"/numbers/{NUMBER}/notifications", body)
    assert r.status == 422, r.body
    fields = [d["field"] for d in r.body["error"]["details"]]
    assert fields == ["to", "parameters.body", "reply.queue"], r.body
    assert await stack.templates_sent() == []


async def test_a_template_not_active_on_the_number_is_refused(stack: NotifyStack) -> None:
    body = {
        **PROMO,
        "template": {"name": "pedido_enviado", "language": "es"},
        "parameters": {
            "header": [{"image": {"link": "https://x.example/p.png"}}],
            "body": ["A-1"],
        },
    }
    r = await stack.api("POST", f"/numbers/{OTHER}/notifications", body)
    assert r.status == 422 and r.body["error"]["details"][0]["type"] == "template_not_active"
    ok = await stack.api("POST", f"/numbers/{NUMBER}/notifications", body)
    assert ok.status == 202, ok.body


async def test_send_tracked_to_read_and_a_reply_opens_a_ticket_with_the_extras(
    stack: NotifyStack,
) -> None:
    body = {
        **PROMO,
        "extras": {"pedido": "A-1001", "cliente": "VIP"},
        "reply": {"queue": "ventas"},
    }
    r = await stack.api("POST", f"/numbers/{NUMBER}/notifications", body)
    assert r.status == 202, r.body
    n = r.body["notification"]
    assert n["to"] == CONTACT and n["number"] == NUMBER and n["status"] in ("pending", "sent")
    sent = await stack.templates_sent(CONTACT)
    assert len(sent) == 1
    payload = sent[0]["payload"]
    assert payload["template"]["name"] == "promo_descuento"
    assert payload["biz_opaque_callback_data"] == f"fe:n:{n['id']}"
    assert payload["template"]["components"][1] == {
        "type": "body",
        "parameters": [{"type": "text", "text": v} for v in ["Ana", "15%", "31/12"]],
    }
    read = await stack.wait_notification(n["id"], "read")
    assert read["status"] == "read" and read["wamid"] == sent[0]["id"]
    assert read["sent_at"] and read["delivered_at"] and read["read_at"]
    await stack.h.say(CONTACT, "¿Hasta cuándo vale?", name="Ana")
    replied = await stack.wait_notification(n["id"], "replied")
    assert replied["replied_at"] is not None
    tickets = await wait_tickets(stack, CONTACT)
    assert len(tickets) == 1
    t = await stack.api("GET", f"/tickets/{tickets[0]['id']}")
    ticket = t.body["ticket"]
    assert ticket["queue"] == "Ventas"
    assert ticket["attendants"] == ["ana@example.com", "bruno@example.com"]
    assert ticket["extras"] == {"pedido": "A-1001", "cliente": "VIP"}
    assert ticket["notification"] == f"n:{n['id']}"
    first, second = ticket["transcript"][:2]
    assert (
        first["sender"] == "notification" and "Hola Ana, tienes 15% de descuento" in first["text"]
    )
    assert second["sender"] == "contact" and second["text"] == "¿Hasta cuándo vale?"
    # the contact's next message goes to the ticket, and opens nothing more
    await stack.h.say(CONTACT, "gracias")
    await asyncio.sleep(0.3)
    assert len(await wait_tickets(stack, CONTACT)) == 1


async def test_reply_null_lets_the_base_flow_answer(stack: NotifyStack) -> None:
    r = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO)
    nid = r.body["notification"]["id"]
    await stack.h.say(CONTACT, "hola")
    replies = await stack.h.wait_sent(2, CONTACT)
    assert any(m["type"] != "template" for m in replies)  # the greeting and the FAQ menu
    assert (await stack.wait_notification(nid, "replied"))["status"] == "replied"
    found = await stack.api("GET", f"/tickets?number={NUMBER}")
    assert found.body["tickets"] == []


async def test_idempotency_key_sends_once(stack: NotifyStack) -> None:
    headers = {"Idempotency-Key": "crm-42"}
    first = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO, headers=headers)
    again = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO, headers=headers)
    assert first.status == again.status == 202
    assert first.body["notification"]["id"] == again.body["notification"]["id"]
    await asyncio.sleep(0.2)
    assert len(await stack.templates_sent(CONTACT)) == 1


async def test_statuses_late_repeated_and_out_of_order_end_right(stack: NotifyStack) -> None:
    await stack.switches(mode="off")
    r = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO)
    n = r.body["notification"]
    (sent,) = await stack.templates_sent(CONTACT)
    for status in ["read", "read", "sent", "delivered", "sent", "failed"]:
        payload = webhooks.build_status_webhook(
            message_id=sent["id"],
            recipient_id=CONTACT,
            status=status,
            phone_number_id=NUMBER,
            callback_data=f"fe:n:{n['id']}",
            errors=[{"code": 131026, "title": "Message undeliverable"}]
            if status == "failed"
            else None,
        )
        resp = await stack.h.post_payload(payload)
        assert resp.status == 200
    final = await stack.wait_notification(n["id"], "read")
    assert final["status"] == "read" and final["error"] is None
    assert final["delivered_at"] is not None  # read without delivered counts as both
    listed = await stack.api("GET", f"/numbers/{NUMBER}/notifications?status=read")
    assert [x["id"] for x in listed.body["notifications"]] == [n["id"]]
    metrics = await stack.session.get(stack.h.engine_url + "/metrics")
    text = await metrics.text()
    assert 'flow_engine_notification_statuses_total{kind="individual",status="read"} 1.0' in text


async def test_a_refused_send_fails_with_the_code(stack: NotifyStack) -> None:
    await stack.switches(refuse={CONTACT: 131026})
    r = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO)
    failed = await stack.wait_notification(r.body["notification"]["id"], "failed")
    assert failed["error"]["code"] == 131026 and failed["failed_at"] is not None


async def test_active_messaging_off_and_the_messaging_limit(notify_factory: StackFactory) -> None:
    stack = await notify_factory(
        {
            NUMBER: {"notifications": {"messaging_limit": 1}},
            OTHER: {"desk": {"active_messaging": {"enabled": False}}},
        }
    )
    off = await stack.api(
        "POST", f"/numbers/{OTHER}/notifications", {**PROMO, "parameters": PROMO["parameters"]}
    )
    assert (
        off.status == 409
        and off.body["error"]["details"]["field"] == "desk.active_messaging.enabled"
    )
    one = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO)
    assert one.status == 202
    same = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO)  # same contact
    assert same.status == 202
    other = await stack.api(
        "POST", f"/numbers/{NUMBER}/notifications", {**PROMO, "to": "5491100000102"}
    )
    assert other.status == 429 and other.body["error"]["details"]["retry_at"] is not None


async def wait_tickets(stack: NotifyStack, contact: str) -> list[dict[str, Any]]:
    for _ in range(100):
        r = await stack.api("GET", f"/tickets?number={NUMBER}")
        found = [t for t in r.body["tickets"] if t["contact"] == contact]
        if found:
            return found
        await asyncio.sleep(0.05)
    return []


async def test_a_throughput_error_is_retried_by_the_sweep(stack: NotifyStack) -> None:
    await stack.h.fault(code=130429, http_status=400, times=2)
    r = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO)
    assert r.status == 202
    n = r.body["notification"]
    assert n["status"] == "pending" and n["attempts"] == 1 and n["error"] is None
    sent = await stack.wait_notification(n["id"], "read", within=15)
    assert sent["status"] == "read" and sent["attempts"] == 3
    assert len(await stack.templates_sent(CONTACT)) == 1


async def test_a_template_status_webhook_updates_the_catalog(stack: NotifyStack) -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "100000000000000",
                "time": 1750000000,
                "changes": [
                    {
                        "field": "message_template_status_update",
                        "value": {
                            "event": "PAUSED",
                            "message_template_id": 900000000000001,
                            "message_template_name": "promo_descuento",
                            "message_template_language": "es",
                            "reason": "LOW_QUALITY",
                        },
                    }
                ],
            }
        ],
    }
    assert (await stack.h.post_payload(payload)).status == 200
    catalog = await stack.api("GET", f"/numbers/{NUMBER}/templates/catalog")
    statuses = {(t["name"], t["language"]): t["status"] for t in catalog.body["templates"]}
    assert statuses[("promo_descuento", "es")] == "PAUSED"
    assert statuses[("promo_descuento", "pt_BR")] == "REJECTED"
    r = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO)
    assert r.status == 422 and r.body["error"]["details"][0]["type"] == "template_not_approved"
