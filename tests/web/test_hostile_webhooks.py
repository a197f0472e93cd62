"""Issue 10, item 6: signed but hostile webhooks. Every id and string the engine keys or
stores on is bounded, an empty id is refused — a 400 naming the field path, nothing queued —
and metric labels copied from input stay within fixed sets. A mutation fuzzer over real
payloads finds no 5xx."""

from __future__ import annotations

import copy
import io
import json
import os
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flow_engine.devtools import webhooks
from flow_engine.domain import limits
from flow_engine.web.state import STORAGE
from tests.support.harness import APP_SECRET, DEMO_NUMBER, Harness

CONTACT = "5491100000003"
StackFactory = Callable[..., Awaitable[Harness]]
MSG = "entry.0.changes.0.value.messages.0"
#: FLOW_ENGINE_FUZZ_SCALE=10 runs ten times as many fuzzed webhooks (as tests/admin does)
FUZZ_SCALE = max(1, int(os.environ.get("FLOW_ENGINE_FUZZ_SCALE", "1")))
STATUS = "entry.0.changes.0.value.statuses.0"


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Harness:
    return await stack_factory()


async def post(h: Harness, payload: Any) -> tuple[int, Any]:
    body = payload if isinstance(payload, bytes) else webhooks.encode(payload)
    headers = {
        "Content-Type": "application/json",
        webhooks.SIGNATURE_HEADER: webhooks.sign_body(body, APP_SECRET),
    }
    data = io.BytesIO(body) if len(body) > 1024 * 1024 else body
    url = h.engine_url + "/webhooks/whatsapp"
    async with h.session.post(url, data=data, headers=headers) as r:
        text = await r.text()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text


def text_message(**fields: Any) -> dict[str, Any]:
    return webhooks.build_text_webhook(wa_id=CONTACT, name="Ana", text="hola", **fields)


def message_of(payload: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    return message


def status_payload(**status: Any) -> dict[str, Any]:
    payload = webhooks.build_status_webhook(message_id="wamid.s1", recipient_id=CONTACT)
    payload["entry"][0]["changes"][0]["value"]["statuses"][0].update(status)
    return payload


def set_path(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(payload)
    node: Any = doc
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    node[int(last) if isinstance(node, list) else last] = value
    return doc


def with_content(kind: str, content: Any) -> dict[str, Any]:
    return webhooks.build_message_webhook(
        wa_id=CONTACT, name="Ana", content={"type": kind, kind: content}
    )


async def assert_refused(h: Harness, payload: Any, field: str) -> None:
    status, answer = await post(h, payload)
    assert status == 400, (status, str(answer)[:300])
    fields = [d["field"] for d in answer["error"]["details"]]
    assert field in fields, fields
    storage = h.app[STORAGE]  # type: ignore[attr-defined]
    assert await storage.queue.depth() == 0  # nothing was queued
    assert await storage.events.statuses(DEMO_NUMBER) == []


LONG_ID = "w" * (limits.WEBHOOK_ID_MAX + 1)
LONG_CONTACT = "5" * (limits.WEBHOOK_CONTACT_MAX + 1)


async def test_an_empty_message_id_is_refused_naming_it(stack: Harness) -> None:
    await assert_refused(stack, set_path(text_message(), f"{MSG}.id", ""), f"{MSG}.id")


async def test_a_two_megabyte_message_id_is_refused_naming_it(stack: Harness) -> None:
    huge = "wamid." + "A" * (2 * 1024 * 1024)
    await assert_refused(stack, text_message(message_id=huge), f"{MSG}.id")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (f"{MSG}.id", LONG_ID),
        (f"{MSG}.id", "wamid with spaces"),
        (f"{MSG}.from", ""),
        (f"{MSG}.from", LONG_CONTACT),
        (f"{MSG}.from", "54911\n"),
        (f"{MSG}.type", ""),
        (f"{MSG}.type", "t" * (limits.WEBHOOK_LABEL_MAX + 1)),
        (f"{MSG}.timestamp", "1" * 21),
        (f"{MSG}.text.body", "x" * (limits.WEBHOOK_TEXT_MAX + 1)),
        ("entry.0.changes.0.value.contacts.0.wa_id", ""),
        ("entry.0.changes.0.value.contacts.0.wa_id", LONG_CONTACT),
        ("entry.0.changes.0.value.contacts.0.profile.name", "n" * (limits.WEBHOOK_NAME_MAX + 1)),
        ("entry.0.changes.0.value.metadata.phone_number_id", ""),
        ("entry.0.changes.0.value.metadata.phone_number_id", "1000}{x"),
        ("entry.0.changes.0.value.metadata.display_phone_number", "1" * 33),
        ("entry.0.changes.0.field", ""),
        ("entry.0.id", LONG_ID),
        ("object", ""),
    ],
)
async def test_each_bounded_field_of_a_message_is_named(
    stack: Harness, path: str, value: Any
) -> None:
    await assert_refused(stack, set_path(text_message(), path, value), path)


@pytest.mark.parametrize(
    ("kind", "content", "field"),
    [
        (
            "interactive",
            {"type": "list_reply", "list_reply": {"id": "", "title": "x"}},
            "interactive.list_reply.id",
        ),
        (
            "interactive",
            {"type": "button_reply", "button_reply": {"id": LONG_ID, "title": "x"}},
            "interactive.button_reply.id",
        ),
        (
            "interactive",
            {"type": "list_reply", "list_reply": {"id": "a", "title": "t" * 1025}},
            "interactive.list_reply.title",
        ),
        (
            "button",
            {"payload": "p" * (limits.WEBHOOK_TITLE_MAX + 1), "text": "x"},
            "button.payload",
        ),
        ("image", {"id": "m1", "caption": "c" * (limits.WEBHOOK_TEXT_MAX + 1)}, "image.caption"),
        ("image", {"id": ""}, "image.id"),
        ("document", {"id": "m1", "pad": "x" * limits.WEBHOOK_CONTENT_MAX}, "document"),
        ("location", {"latitude": 1, "name": "x" * limits.WEBHOOK_CONTENT_MAX}, "location"),
        ("reaction", {"message_id": LONG_ID, "emoji": "👍"}, "reaction.message_id"),
        ("order", {"product_items": [{"x": "y" * 100}] * 2000}, "order"),
    ],
)
async def test_each_bounded_field_of_a_content_is_named(
    stack: Harness, kind: str, content: Any, field: str
) -> None:
    await assert_refused(stack, with_content(kind, content), f"{MSG}.{field}")


@pytest.mark.parametrize(
    ("status", "field"),
    [
        ({"id": ""}, "id"),
        ({"id": LONG_ID}, "id"),
        ({"status": ""}, "status"),
        ({"status": "s" * 33}, "status"),
        ({"recipient_id": LONG_CONTACT}, "recipient_id"),
        ({"errors": [{"code": 2**40}]}, "errors.0.code"),
        ({"errors": [{"code": 1, "title": "t" * 1025}]}, "errors.0.title"),
        ({"errors": [{"code": 1}] * 17}, "errors"),
    ],
)
async def test_each_bounded_field_of_a_status_is_named(
    stack: Harness, status: dict[str, Any], field: str
) -> None:
    await assert_refused(stack, status_payload(**status), f"{STATUS}.{field}")


async def test_an_oversized_account_event_is_refused(stack: Harness) -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {"field": "account_update", "value": {"x": "y" * limits.WEBHOOK_EVENT_MAX}}
                ],
            }
        ],
    }
    await assert_refused(stack, payload, "entry.0.changes.0.value")


async def test_ids_at_their_limits_are_taken(stack: Harness) -> None:
    longest = "w" * limits.WEBHOOK_ID_MAX
    payload = set_path(text_message(message_id=longest), f"{MSG}.from", "5" * 64)
    payload = set_path(payload, "entry.0.changes.0.value.contacts.0.wa_id", "5" * 64)
    status, answer = await post(stack, payload)
    assert (status, answer["accepted"]) == (200, 1)
    assert await stack.wait_sent(1, "5" * 64)


async def metrics_text(h: Harness) -> str:
    async with h.session.get(h.engine_url + "/metrics") as r:
        return await r.text()


def label_values(text: str, metric: str, label: str) -> set[str]:
    return set(re.findall(rf'^{metric}{{[^}}]*{label}="([^"]*)"', text, re.MULTILINE))


async def test_unknown_types_and_statuses_are_counted_as_other(stack: Harness) -> None:
    for i in range(5):
        kind = f"made_up_type_{i}"
        status, _ = await post(stack, with_content(kind, {"x": i}))
        assert status == 200
        payload = status_payload(id=f"wamid.s{i}", status=f"made_up_status_{i}")
        assert (await post(stack, payload))[0] == 200
    assert (await post(stack, text_message()))[0] == 200
    assert (await post(stack, status_payload(id="wamid.ok", status="delivered")))[0] == 200
    text = await metrics_text(stack)
    assert label_values(text, "flow_engine_inbound_messages_total", "type") == {"other", "text"}
    assert label_values(text, "flow_engine_statuses_total", "status") == {"other", "delivered"}
    storage = stack.app[STORAGE]  # type: ignore[attr-defined]
    kept = {s.status for s in await storage.events.statuses(DEMO_NUMBER)}
    assert "made_up_status_0" in kept  # the record keeps what came; only the label is mapped


async def test_unknown_gateway_codes_are_counted_as_other(stack: Harness) -> None:
    await stack.fault(http_status=503, code=987654, times=1)  # an unknown code, retried
    await stack.fault(http_status=429, code=130429, times=1)  # a known one
    await stack.say(CONTACT, "hola")
    await stack.wait_sent(1, CONTACT)
    text = await metrics_text(stack)
    assert label_values(text, "flow_engine_send_retries_total", "code") == {"other", "130429"}


# ------------------------------------------------------------------------------ fuzzing
HOSTILE: list[Any] = [
    "",
    " ",
    "\x00",
    "}{:",
    "x" * 300,
    "9" * 70,
    "🙂" * 80,
    "y" * 70_000,
    None,
    0,
    -1,
    2**70,
    1.5,
    True,
    [],
    [1, "a"],
    {},
    {"id": ""},
    {"type": "list_reply", "list_reply": {"id": 5}},
]


def paths_of(node: Any, prefix: str = "") -> list[str]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths_of(value, f"{prefix}.{i}" if prefix else str(i))
    return found


def seeds() -> list[dict[str, Any]]:
    base = [
        text_message(),
        status_payload(errors=[{"code": 131049, "title": "x", "error_data": {"details": "d"}}]),
        webhooks.build_list_reply_webhook(wa_id=CONTACT, name="A", reply_id="faq_1", title="t"),
        webhooks.build_button_reply_webhook(wa_id=CONTACT, name="A", reply_id="b", title="t"),
        with_content("image", {"id": "m1", "caption": "c", "mime_type": "image/jpeg"}),
        with_content("reaction", {"message_id": "wamid.x", "emoji": "👍"}),
        with_content("button", {"payload": "p", "text": "t"}),
        with_content("system", {"body": "changed", "new_wa_id": "5491100000009"}),
        with_content("contacts", [{"name": {"formatted_name": "A"}, "phones": [{"phone": "1"}]}]),
    ]
    return base


def mutate(rng: random.Random, payload: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(payload)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths_of(doc))
        node: Any = doc
        *parents, last = path.split(".")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        key: Any = int(last) if isinstance(node, list) else last
        action = rng.random()
        if action < 0.15 and isinstance(node, dict):
            del node[key]
        elif action < 0.25 and isinstance(node, dict):
            node["extra_" + str(rng.randint(0, 9))] = rng.choice(HOSTILE)
        else:
            node[key] = copy.deepcopy(rng.choice(HOSTILE))
        if not paths_of(doc):
            break
    return doc


async def test_fuzzed_signed_webhooks_never_get_a_5xx(stack: Harness) -> None:
    rng = random.Random(20261201)
    statuses: dict[int, int] = {}
    for i in range(300 * FUZZ_SCALE):
        payload = mutate(rng, seeds()[i % len(seeds())])
        status, answer = await post(stack, payload)
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, (status, answer, json.dumps(payload)[:500])
        if status == 400:
            assert answer["error"]["code"] == "bad_request"
    assert statuses.get(200) and statuses.get(400), statuses  # both kinds were exercised
    # and the engine still serves a plain message afterwards
    await stack.say("5491100000099", "hola")
    assert await stack.wait_sent(1, "5491100000099")
