"""Notification figures (R-DATA) from real sends, status webhooks and replies, on memory
and on Redis: total, received, read, errors, replied, response rate — by number, by
template and by region — each counted once when a status webhook is delivered again."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from flow_engine.devtools import webhooks
from tests.notify.conftest import NUMBER, NotifyStack
from tests.notify.test_campaigns import csv_of, done, spec
from tests.notify.test_individual import CONTACT, PROMO


def period() -> str:
    """Yesterday to tomorrow: today in any of the numbers' time zones."""
    yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    return f"numbers={NUMBER}&from={yesterday}&to={tomorrow}"


async def report(stack: NotifyStack, by: str = "number") -> dict[str, Any]:
    r = await stack.api("GET", f"/data/notifications?by={by}&{period()}")
    assert r.status == 200, r.body
    return dict(r.body)


async def until_totals(stack: NotifyStack, expected: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        got = (await report(stack))["totals"]
        if got == expected or time.monotonic() > deadline:
            return dict(got)
        await asyncio.sleep(0.1)


async def test_an_individual_notification_counts_each_step_once(stack: NotifyStack) -> None:
    r = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO)
    assert r.status == 202, r.body
    n = r.body["notification"]
    await stack.wait_notification(n["id"], "read")
    await stack.h.say(CONTACT, "¿Hasta cuándo vale?", name="Ana")
    await stack.wait_notification(n["id"], "replied")
    expected = {
        "total": 1,
        "received": 1,
        "read": 1,
        "errors": 0,
        "replied": 1,
        "response_rate": 100.0,
    }
    assert await until_totals(stack, expected) == expected
    # Meta delivers the read status again: nothing moves
    sent = await stack.templates_sent(CONTACT)
    again = webhooks.build_status_webhook(
        message_id=sent[0]["id"],
        recipient_id=CONTACT,
        status="read",
        phone_number_id=NUMBER,
        callback_data=f"fe:n:{n['id']}",
    )
    for _ in range(2):
        assert (await stack.h.post_payload(again)).status == 200
    assert (await report(stack))["totals"] == expected
    by_template = (await report(stack, "template"))["by_template"]
    assert [(t["template"], t["total"], t["replied"]) for t in by_template] == [
        ("promo_descuento", 1, 1)
    ]
    by_region = (await report(stack, "region"))["by_region"]
    assert [(x["region"], x["read"]) for x in by_region] == [("AR", 1)]
    messages = await stack.api("GET", f"/data/messages?{period()}")
    assert messages.body["totals"]["sent_notification"] == 1


async def test_a_campaign_counts_by_region(stack: NotifyStack) -> None:
    contacts = ["5511987650001", "5511987650002", "5521987650003"]  # São Paulo ×2, Rio
    r = await stack.create_campaign(csv_of(contacts), **spec())
    assert r.status == 201, r.body
    cid = r.body["campaign"]["id"]
    await stack.wait_campaign(cid, lambda c: c["counts"]["read"] == 3 and done(c))
    expected = {
        "total": 3,
        "received": 3,
        "read": 3,
        "errors": 0,
        "replied": 0,
        "response_rate": 0.0,
    }
    assert await until_totals(stack, expected) == expected
    by_region = (await report(stack, "region"))["by_region"]
    assert [(x["region"], x["total"]) for x in by_region] == [("BR-RJ", 1), ("BR-SP", 2)]
