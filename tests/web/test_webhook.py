"""The webhook as the gateway uses it: verification, signatures, bad bodies, first reply."""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable

import pytest

from flow_engine.devtools import webhooks
from flow_engine.web.state import STORAGE
from tests.support.harness import APP_SECRET, DEMO_NUMBER, Harness, text_of

CONTACT = "5491100000002"
StackFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def greeting_stack(stack_factory: StackFactory) -> Harness:
    return await stack_factory()  # the default flow


async def test_verification_echoes_challenge(greeting_stack: Harness) -> None:
    h = greeting_stack
    url = h.engine_url + "/webhooks/whatsapp"
    ok = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "verify-me"}
    async with h.session.get(url, params=ok) as r:
        assert r.status == 200
        assert await r.text() == "1158201444"
    async with h.session.get(url, params={**ok, "hub.verify_token": "wrong"}) as r:
        assert r.status == 403
        body = await r.json()
        assert body["error"]["code"] == "forbidden"
    async with h.session.get(url, params={**ok, "hub.mode": "unsubscribe"}) as r:
        assert r.status == 403


async def test_new_contact_gets_the_initial_greeting(greeting_stack: Harness) -> None:
    h = greeting_stack
    await h.say(CONTACT, "hola", name="Ana")
    sent = await h.wait_sent(1, CONTACT)
    assert text_of(sent[0]) == "Hola Ana, ¡espero que estés bien! 😃"
    assert sent[0]["authorization"] == "Bearer test-token"
    assert sent[0]["phone_number_id"] == DEMO_NUMBER
    assert sent[0]["payload"]["to"] == CONTACT


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("sha1=abc", 401),
        ("sha256=", 401),
        # not hex: malformed, as docs/api.md says (401), not a digest that does not match
        ("sha256=zz", 401),
        ("sha256=" + "g" * 64, 401),
        ("sha256=" + "0" * 64, 403),
        ("sha256=abc", 403),
    ],
)
async def test_bad_signature_is_refused_and_nothing_processed(
    greeting_stack: Harness, header: str | None, status: int
) -> None:
    h = greeting_stack
    payload = webhooks.build_text_webhook(wa_id=CONTACT, name="Ana", text="hola")
    body = webhooks.encode(payload)
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[webhooks.SIGNATURE_HEADER] = header
    resp = await h.post_raw(body, headers)
    assert resp.status == status
    storage = h.app[STORAGE]  # type: ignore[attr-defined]
    assert await storage.queue.depth() == 0
    assert await h.settle(CONTACT, quiet=0.3) == []


async def test_signature_over_other_bytes_is_refused(greeting_stack: Harness) -> None:
    h = greeting_stack
    payload = webhooks.build_text_webhook(wa_id=CONTACT, name="Ana", text="hola")
    body = webhooks.encode(payload)
    signature = webhooks.sign_body(body, APP_SECRET)
    tampered = body.replace(b"hola", b"HOLA")
    resp = await h.post_raw(tampered, {webhooks.SIGNATURE_HEADER: signature})
    assert resp.status == 403


async def post_signed(h: Harness, body: bytes) -> tuple[int, dict[str, object]]:
    headers = {
        "Content-Type": "application/json",
        webhooks.SIGNATURE_HEADER: webhooks.sign_body(body, APP_SECRET),
    }
    data = io.BytesIO(body) if len(body) > 1024 * 1024 else body
    async with h.session.post(
        h.engine_url + "/webhooks/whatsapp", data=data, headers=headers
    ) as r:
        return r.status, await r.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", None),
        (b"[]", None),
        (b'{"object": "whatsapp_business_account"}', "entry"),
        (b'{"object": "whatsapp_business_account", "entry": "x"}', "entry"),
        (
            b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {}}]}]}',
            "entry.0.changes.0.field",
        ),
        (
            json.dumps(
                {
                    "object": "whatsapp_business_account",
                    "entry": [
                        {
                            "id": "1",
                            "changes": [
                                {
                                    "field": "messages",
                                    "value": {
                                        "metadata": {
                                            "display_phone_number": "1",
                                            "phone_number_id": "2",
                                        },
                                        "messages": [{"id": "w", "type": "text"}],
                                    },
                                }
                            ],
                        }
                    ],
                }
            ).encode(),
            "entry.0.changes.0.value.messages.0.from",
        ),
        (b'{"object": "page", "entry": []}', "object"),
    ],
)
async def test_malformed_bodies_get_400_naming_the_field(
    greeting_stack: Harness, body: bytes, field: str | None
) -> None:
    status, answer = await post_signed(greeting_stack, body)
    assert status == 400
    error = answer["error"]
    assert isinstance(error, dict)
    assert error["code"] == "bad_request" and error["message"]
    if field is not None:
        assert field in [d["field"] for d in error["details"]], error


async def test_body_over_3mb_gets_413(greeting_stack: Harness) -> None:
    body = (
        b'{"object": "whatsapp_business_account", "entry": [], "pad": "'
        + b"x" * (3 * 1024 * 1024)
        + b'"}'
    )
    status, answer = await post_signed(greeting_stack, body)
    assert status == 413
    assert answer["error"]["code"] == "payload_too_large"  # type: ignore[index]


async def test_every_update_of_a_payload_is_read(greeting_stack: Harness) -> None:
    h = greeting_stack
    contacts = [f"54911000100{i:02d}" for i in range(6)]
    changes = []
    for i in range(0, 6, 2):
        a = webhooks.build_text_webhook(wa_id=contacts[i], name="A", text="hola")
        b = webhooks.build_text_webhook(wa_id=contacts[i + 1], name="B", text="hola")
        value = a["entry"][0]["changes"][0]["value"]
        value["contacts"] += b["entry"][0]["changes"][0]["value"]["contacts"]
        value["messages"] += b["entry"][0]["changes"][0]["value"]["messages"]
        changes.append({"field": "messages", "value": value})
    status_change = webhooks.build_status_webhook(
        message_id="wamid.x", recipient_id=CONTACT, status="failed", errors=[{"code": 131049}]
    )
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1", "changes": changes[:2]},
            {"id": "2", "changes": [changes[2], status_change["entry"][0]["changes"][0]]},
        ],
    }
    status, answer = await post_signed(h, webhooks.encode(payload))
    assert status == 200
    assert answer["accepted"] == 6 and answer["statuses"] == 1
    await h.wait_sent(6)
    sent = await h.settle()
    greetings = [r["to"] for r in sent if text_of(r).startswith("Hola ")]
    assert sorted(greetings) == sorted(contacts)  # each contact answered, once
    storage = h.app[STORAGE]  # type: ignore[attr-defined]
    (st,) = await storage.events.statuses(DEMO_NUMBER)
    assert st.status == "failed" and st.error_code == 131049


@pytest.mark.parametrize(
    "kind",
    [
        "image",
        "sticker",
        "location",
        "reaction",
        "order",
        "system",
        "unsupported",
        "a_type_meta_adds_tomorrow",
    ],
)
async def test_any_message_type_is_accepted(greeting_stack: Harness, kind: str) -> None:
    h = greeting_stack
    content: dict[str, object] = {
        "type": kind,
        kind: {"id": "media-1", "emoji": "👍", "body": "x"},
    }
    payload = webhooks.build_message_webhook(wa_id=CONTACT, name="Ana", content=content)
    status, answer = await post_signed(h, webhooks.encode(payload))
    assert status == 200, answer
    assert answer["accepted"] == 1


async def test_health_ready_and_metrics(greeting_stack: Harness) -> None:
    h = greeting_stack
    for path in ("/healthz", "/readyz"):
        async with h.session.get(h.engine_url + path) as r:
            assert r.status == 200
    await h.say(CONTACT, "hola")
    await h.wait_sent(1, CONTACT)
    async with h.session.get(h.engine_url + "/metrics") as r:
        text = await r.text()
    for name in (
        "flow_engine_inbound_messages_total",
        "flow_engine_outbound_total",
        "flow_engine_processing_seconds_bucket",
        "flow_engine_queue_depth",
        "flow_engine_send_retries_total",
        "flow_engine_dedupe_hits_total",
    ):
        assert name in text
