"""The scripted week of notifications: real sends through the notifications API, status
webhooks (with their own timestamps, some delivered twice) and a contact's reply through
the webhook path, on two numbers in different time zones (São Paulo UTC-3, Tokyo UTC+9)
across a month boundary. Every figure of ``/data/notifications`` (by number, template and
region), its CSV, and the notifications' share of ``/data/messages`` (sent, MAU, MIS)
against answers worked out by hand from docs/data.md. Memory and Redis.

D0 is the last day of last month, D1 the first of this one; the period runs from D0 - 1
to D1. The steps, at local times of their number:

- N1, São Paulo → an Argentine phone (AR), ``promo_descuento``: sent D0 23:50 (D1 in
  UTC), delivered D0 23:55, read D1 00:05, replied D1 00:10;
- N2, São Paulo → a São Paulo phone (BR-SP), ``recordatorio_cita``: sent D1 10:00,
  failed D1 10:01;
- N3, São Paulo → a Rio phone (BR-RJ), ``promo_descuento``: refused for good at D1 11:00
  (a send, an error, no message sent);
- N4, Tokyo → the same São Paulo phone as N2, ``promo_descuento``: sent D1 08:00 (D0 in
  UTC), delivered D1 08:01 and read D1 09:00, each webhook delivered twice.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flow_engine.devtools import webhooks
from tests.data.conftest import until
from tests.notify.conftest import NUMBER, OTHER, NotifyStack, StackFactory
from tests.notify.test_individual import PROMO

SP, TOKYO = NUMBER, OTHER
ZONES = {SP: ZoneInfo("America/Sao_Paulo"), TOKYO: ZoneInfo("Asia/Tokyo")}
AR, BR_SP, BR_RJ = "5491100000101", "5511987650002", "5521987650003"
D1 = datetime.now(UTC).date().replace(day=1)
D0 = D1 - timedelta(days=1)
START = D0 - timedelta(days=1)
M0, M1 = D0.isoformat()[:7], D1.isoformat()[:7]
REMINDER = {"name": "recordatorio_cita", "language": "es"}
FIGURES = ("total", "received", "read", "errors", "replied", "response_rate")


def at(number: str, day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZONES[number])


def figures(*values: Any) -> dict[str, Any]:
    return dict(zip(FIGURES, values, strict=True))


async def send(
    stack: NotifyStack, number: str, to: str, when: datetime, template: dict[str, str] | None
) -> tuple[str, str | None]:
    """A notification sent at ``when``: its id and the wamid the gateway gave it (None
    when the gateway refused it)."""
    stack.clock.set(when)
    body: dict[str, Any] = {**PROMO, "to": to}
    if template is not None:
        body = {
            "to": to,
            "template": template,
            "parameters": {"body": {"nombre": "Ana", "fecha": "mañana"}},
        }
    r = await stack.api("POST", f"/numbers/{number}/notifications", body)
    assert r.status == 202, r.body
    nid = r.body["notification"]["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        n = (await stack.api("GET", f"/notifications/{nid}")).body["notification"]
        if n["status"] != "pending":
            return nid, n.get("wamid")
        await asyncio.sleep(0.05)
    raise AssertionError(f"{nid} was never sent")


async def status(
    stack: NotifyStack, number: str, nid: str, wamid: str, to: str, what: str, when: datetime
) -> None:
    payload = webhooks.build_status_webhook(
        message_id=wamid,
        recipient_id=to,
        status=what,
        phone_number_id=number,
        timestamp=int(when.timestamp()),
        callback_data=f"fe:n:{nid}",
        errors=[{"code": 131026, "title": "Message undeliverable"}] if what == "failed" else None,
    )
    assert (await stack.h.post_payload(payload)).status == 200


async def play(stack: NotifyStack) -> None:
    await stack.switches(mode="off")  # the statuses come from the script only
    n1, w1 = await send(stack, SP, AR, at(SP, D0, 23, 50), None)
    assert w1 is not None
    await status(stack, SP, n1, w1, AR, "delivered", at(SP, D0, 23, 55))
    await status(stack, SP, n1, w1, AR, "read", at(SP, D1, 0, 5))
    stack.clock.set(at(SP, D1, 0, 10))
    await stack.h.say(AR, "¿Hasta cuándo vale?", name="Ana")
    await stack.wait_notification(n1, "replied")

    n2, w2 = await send(stack, SP, BR_SP, at(SP, D1, 10), REMINDER)
    assert w2 is not None
    await status(stack, SP, n2, w2, BR_SP, "failed", at(SP, D1, 10, 1))
    await stack.wait_notification(n2, "failed")

    await stack.switches(refuse={BR_RJ: 131026})
    n3, _ = await send(stack, SP, BR_RJ, at(SP, D1, 11), None)
    assert (await stack.wait_notification(n3, "failed"))["error"]["code"] == 131026

    n4, w4 = await send(stack, TOKYO, BR_SP, at(TOKYO, D1, 8), None)
    assert w4 is not None
    for _ in range(2):  # Meta delivers each again
        await status(stack, TOKYO, n4, w4, BR_SP, "delivered", at(TOKYO, D1, 8, 1))
        await status(stack, TOKYO, n4, w4, BR_SP, "read", at(TOKYO, D1, 9))
    await stack.wait_notification(n4, "read")


#: worked out by hand from the steps above
TOTALS = figures(4, 2, 2, 2, 1, 50.0)
DAYS = {
    START: figures(0, 0, 0, 0, 0, None),
    D0: figures(1, 1, 0, 0, 0, 0.0),  # N1 sent and delivered, São Paulo's D0
    D1: figures(3, 1, 2, 2, 1, 100.0),  # N1 read, replied; N2, N3, N4
}
BY = {
    "number": {SP: figures(3, 1, 1, 2, 1, 100.0), TOKYO: figures(1, 1, 1, 0, 0, 0.0)},
    "template": {
        "promo_descuento": figures(3, 2, 2, 1, 1, 50.0),  # N1, N3, N4
        "recordatorio_cita": figures(1, 0, 0, 1, 0, None),  # N2
    },
    "region": {
        "AR": figures(1, 1, 1, 0, 1, 100.0),
        "BR-RJ": figures(1, 0, 0, 1, 0, None),
        "BR-SP": figures(2, 1, 1, 1, 0, 0.0),  # N2 (failed), N4
    },
}


async def get(stack: NotifyStack, path: str, **params: str) -> Any:
    query = "&".join(f"{k}={v}" for k, v in {"from": START, "to": D1, **params}.items())
    r = await stack.api("GET", f"{path}?{query}")
    assert r.status == 200, r.body
    return r.body


async def test_scripted_notifications(notify_factory: StackFactory) -> None:
    stack = await notify_factory({TOKYO: {"timezone": "Asia/Tokyo"}})
    await play(stack)

    async def totals() -> Any:
        return (await get(stack, "/data/notifications"))["totals"]

    assert await until(totals, TOTALS) == TOTALS
    for by, rows in BY.items():
        report = await get(stack, "/data/notifications", by=by)
        assert report["totals"] == TOTALS
        assert {p.pop("period"): p for p in report["series"]} == {
            d.isoformat(): v for d, v in DAYS.items()
        }
        assert {row.pop(by): row for row in report[f"by_{by}"]} == rows, by
    # the month boundary, and a number alone in its own local days
    monthly = await get(stack, "/data/notifications", interval="month")
    assert [(p["period"], p["total"], p["read"]) for p in monthly["series"]] == [
        (M0, 1, 0),
        (M1, 3, 2),
    ]
    tokyo = await get(stack, "/data/notifications", numbers=TOKYO)
    assert [p["total"] for p in tokyo["series"]] == [0, 0, 1]

    # the CSV: a header, one row per series point, the same figures
    csv = await stack.api("GET", f"/data/notifications?from={START}&to={D1}&format=csv")
    assert csv.status == 200
    lines = csv.body.splitlines()
    assert lines[0].split(",") == ["period", *FIGURES]
    points = [dict(zip(lines[0].split(","), line.split(","), strict=True)) for line in lines[1:]]
    assert points == [
        {"period": d.isoformat(), **{k: "" if v is None else str(v) for k, v in f.items()}}
        for d, f in DAYS.items()
    ]

    # a notification sent is a message sent and makes its recipient active; the refused
    # one is neither; the reply is a message received, and makes AR an MIS contact
    async def volume() -> Any:
        series = (await get(stack, "/data/messages"))["series"]
        return [(p["sent_notification"], p["received"]) for p in series]

    assert await until(volume, [(0, 0), (1, 0), (2, 1)]) == [(0, 0), (1, 0), (2, 1)]
    messages = await get(stack, "/data/messages")
    months = {m["month"]: m for m in messages["months"]}
    assert (months[M0]["mau"], months[M0]["mis"]) == (1, 0)  # AR
    assert (months[M1]["mau"], months[M1]["mis"]) == (2, 1)  # AR, BR_SP on both numbers
    assert months[M1]["mau_mom_pct"] == 100.0
