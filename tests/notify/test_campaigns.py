"""Campaigns end to end (R-NOTIFY-2/3/4), on memory and on Redis, against the development
gateway: reports, lifecycle, gateway codes, the messaging limit, schedules, permissions."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from flow_engine.devtools import webhooks
from flow_engine.web.state import STORAGE
from tests.notify.conftest import NUMBER, OTHER, NotifyStack, StackFactory

PROMO = {"name": "promo_descuento", "language": "es"}
PARAMS = {
    "header": [{"column": "nombre"}],
    "body": [{"column": "nombre"}, {"column": "descuento"}, "31/12"],
    "buttons": {"0": [{"column": "codigo"}]},
}


def phones(n: int, start: int = 0) -> list[str]:
    return [f"54911{20000000 + start + i:08d}" for i in range(n)]


def csv_of(contacts: list[str], sep: str = ";") -> str:
    rows = [f"telefono{sep}nombre{sep}descuento{sep}codigo{sep}cliente"]
    rows += [f"+{p}{sep}N{i}{sep}{i}%{sep}c{i}{sep}C-{i}" for i, p in enumerate(contacts)]
    return "\n".join(rows) + "\n"


def spec(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Promo",
        "number": NUMBER,
        "phone_column": "telefono",
        "separator": ";",
        "template": PROMO,
        "parameters": PARAMS,
        **extra,
    }


def done(c: dict[str, Any]) -> bool:
    return c["state"] in ("completed", "cancelled", "needs_attention")


async def sent_to(stack: NotifyStack) -> Counter[str]:
    return Counter(m["to"] for m in await stack.templates_sent())


async def test_dry_run_reports_every_row_and_stores_nothing(stack: NotifyStack) -> None:
    text = (
        "\ufefftelefono;nombre;descuento;codigo\r\n"
        '"+54 9 11 2345-6701";"Ana; la primera";15%;a\r\n'
        "5491123456702;Bruno;10%;b\r\n"
        "5491123456702;Bruno;10%;b\r\n"
        "5.49112E+12;Diego;5%;d\r\n"
        ";Eva;5%;e\r\n"
        "123;Fer;5%;f\r\n"
    )
    r = await stack.create_campaign(text, **spec(dry_run=True))
    assert r.status == 200, r.body
    report = r.body["report"]
    assert (report["rows"], report["accepted"], report["duplicates"]) == (6, 2, 1)
    assert [(x["row"], x["column"], x["code"]) for x in report["rejected"]] == [
        (5, "telefono", "scientific_notation"),
        (6, "telefono", "empty_phone"),
        (7, "telefono", "impossible_phone"),
    ]
    assert report["rejected"][1]["reason"] == "empty phone"  # the reason stays English
    assert report["unused_columns"] == []  # every column is a parameter
    listed = await stack.api("GET", "/campaigns")
    assert listed.body["campaigns"] == []
    assert await stack.templates_sent() == []


async def test_missing_column_or_unknown_template_is_422_before_anything_is_stored(
    stack: NotifyStack,
) -> None:
    text = csv_of(phones(2))
    bad = [
        (spec(phone_column="celular"), "phone_column"),
        (spec(parameters={**PARAMS, "header": [{"column": "apodo"}]}), "columns"),
        (spec(template={"name": "no_existe", "language": "es"}), "template.name"),
        (spec(parameters={"body": ["x"]}), "parameters.header"),
        (spec(reply={"queue": "Cocina"}), "reply.queue"),
        (spec(name="Navidad\x00"), "name"),
        (spec(name="Navidad\n2026"), "name"),
        (spec(name="   "), "name"),
    ]
    for body, field in bad:
        r = await stack.create_campaign(text, **body)
        assert r.status == 422, (field, r.body)
        assert field in [d["field"] for d in r.body["error"]["details"]], (field, r.body)
    assert (await stack.api("GET", "/campaigns")).body["campaigns"] == []
    assert await stack.templates_sent() == []


async def test_every_bad_field_of_a_campaign_is_named_in_one_422(stack: NotifyStack) -> None:
    params = {**PARAMS, "header": [{"column": "apodo"}]}
    body = spec(phone_column="celular", parameters=params, reply={"queue": "Cocina"})
    r = await stack.create_campaign(csv_of(phones(2)), **{**body, "start_at": "mañana"})
    assert r.status == 422, r.body
    fields = [d["field"] for d in r.body["error"]["details"]]
    assert fields == ["phone_column", "columns", "reply.queue", "start_at"], r.body
    assert "'celular'" in r.body["error"]["details"][0]["message"]
    assert "'apodo'" in r.body["error"]["details"][1]["message"]
    assert (await stack.api("GET", "/campaigns")).body["campaigns"] == []


async def test_a_campaign_sends_each_recipient_once_tracked_to_read(stack: NotifyStack) -> None:
    contacts = phones(12)
    r = await stack.create_campaign(csv_of(contacts), **spec())
    assert r.status == 201, r.body
    cid = r.body["campaign"]["id"]
    assert r.body["report"]["accepted"] == 12
    c = await stack.wait_campaign(cid, lambda c: c["counts"]["read"] == 12 and done(c))
    assert c["state"] == "completed" and c["finished_at"] is not None
    assert c["counts"] == {
        "total": 12,
        "pending": 0,
        "sent": 0,
        "delivered": 0,
        "read": 12,
        "failed": 0,
        "replied": 0,
        "skipped": 0,
    }
    assert await sent_to(stack) == Counter(contacts)
    first = next(m for m in await stack.templates_sent() if m["to"] == contacts[3])
    body = first["payload"]["template"]["components"][1]["parameters"]
    assert [p["text"] for p in body] == ["N3", "3%", "31/12"]
    assert first["payload"]["biz_opaque_callback_data"] == f"fe:c:{cid}:3"
    page = await stack.api("GET", f"/campaigns/{cid}/recipients?status=read&limit=5")
    assert len(page.body["recipients"]) == 5 and page.body["next"] == 5
    export = await stack.session.get(
        stack.h.engine_url + f"/api/v1/campaigns/{cid}/recipients?format=csv",
        headers={"Authorization": "Bearer admin-token"},
    )
    rows = list(csv.DictReader(io.StringIO(await export.text())))
    assert [x["phone"] for x in rows] == contacts
    assert all(x["status"] == "read" and x["wamid"] and x["read_at"] for x in rows)


async def test_pause_resume_cancel(stack: NotifyStack) -> None:
    contacts = phones(40)
    r = await stack.create_campaign(csv_of(contacts), **spec(per_second=10))
    cid = r.body["campaign"]["id"]
    await stack.wait_campaign(cid, lambda c: c["counts"]["pending"] < 36)
    paused = await stack.api("POST", f"/campaigns/{cid}/pause")
    assert paused.status == 200 and paused.body["campaign"]["state"] == "paused"
    await asyncio.sleep(0.6)  # in-flight sends finish, then nothing more goes
    before = len(await stack.templates_sent())
    await asyncio.sleep(0.6)
    assert len(await stack.templates_sent()) == before < 40
    again = await stack.api("POST", f"/campaigns/{cid}/pause")
    assert again.status == 409
    resumed = await stack.api("POST", f"/campaigns/{cid}/resume")
    assert resumed.body["campaign"]["state"] == "running"
    await stack.wait_campaign(cid, lambda c: len(contacts) - c["counts"]["pending"] > before + 3)
    cancelled = await stack.api("POST", f"/campaigns/{cid}/cancel")
    assert cancelled.body["campaign"]["state"] == "cancelled"
    await asyncio.sleep(0.5)
    c = await stack.campaign(cid)
    sent = await sent_to(stack)
    assert c["counts"]["skipped"] + sum(sent.values()) == 40 and c["counts"]["skipped"] > 0
    assert max(sent.values()) == 1
    assert (await stack.api("POST", f"/campaigns/{cid}/resume")).status == 409


async def test_131049_fails_once_130429_is_retried_132015_pauses(stack: NotifyStack) -> None:
    contacts = phones(10)
    await stack.switches(refuse={contacts[2]: 131049})
    await stack.h.fault(code=130429, http_status=400, times=3)
    r = await stack.create_campaign(csv_of(contacts), **spec())
    cid = r.body["campaign"]["id"]
    c = await stack.wait_campaign(
        cid, lambda c: c["state"] == "completed" and c["counts"]["read"] == 9
    )  # (the read statuses come a little after the sends)
    assert c["counts"]["failed"] == 1 and c["counts"]["read"] == 9
    sent = await sent_to(stack)
    assert contacts[2] not in sent and all(sent[p] == 1 for p in contacts if p != contacts[2])
    failed = await stack.api("GET", f"/campaigns/{cid}/recipients?status=failed")
    (row,) = failed.body["recipients"]
    assert row["phone"] == contacts[2] and row["error"]["code"] == 131049
    # a paused template puts the campaign in needs_attention with the reason
    more = phones(5, start=100)
    await stack.switches(refuse={more[1]: 132015})
    r = await stack.create_campaign(csv_of(more), **spec(per_second=2))
    cid = r.body["campaign"]["id"]
    c = await stack.wait_campaign(cid, done)
    assert c["state"] == "needs_attention" and "132015" in c["reason"]
    assert c["counts"]["pending"] >= 4  # the refused one waits with the others
    await stack.switches(refuse={})
    await stack.api("POST", f"/campaigns/{cid}/resume")
    c = await stack.wait_campaign(cid, lambda c: c["state"] == "completed")
    assert c["counts"]["read"] + c["counts"]["delivered"] + c["counts"]["sent"] == 5


async def test_messaging_limit_waits_then_resumes_by_itself(notify_factory: StackFactory) -> None:
    stack = await notify_factory({NUMBER: {"notifications": {"messaging_limit": 3}}})
    contacts = phones(5)
    r = await stack.create_campaign(csv_of(contacts), **spec())
    cid = r.body["campaign"]["id"]
    c = await stack.wait_campaign(cid, lambda c: c["state"] == "waiting_limit")
    assert c["state"] == "waiting_limit" and "messaging limit" in c["reason"]
    await asyncio.sleep(0.5)
    assert sum((await sent_to(stack)).values()) == 3
    stack.clock.advance(24 * 3600 + 1)  # the window frees
    c = await stack.wait_campaign(cid, lambda c: c["state"] == "completed")
    assert c["state"] == "completed"
    assert await sent_to(stack) == Counter(contacts)


async def test_statuses_out_of_order_and_repeated_count_each_recipient_once(
    stack: NotifyStack,
) -> None:
    await stack.switches(mode="off")
    contacts = phones(3)
    r = await stack.create_campaign(csv_of(contacts), **spec())
    cid = r.body["campaign"]["id"]
    c = await stack.wait_campaign(cid, lambda c: c["counts"]["sent"] == 3)
    sent = {m["to"]: m for m in await stack.templates_sent()}
    plan = {
        0: ["read", "delivered", "read", "sent"],
        1: ["delivered", "delivered"],
        2: ["sent", "failed", "delivered"],
    }
    for index, statuses in plan.items():
        m = sent[contacts[index]]
        for status in statuses:
            payload = webhooks.build_status_webhook(
                message_id=m["id"],
                recipient_id=contacts[index],
                status=status,
                phone_number_id=NUMBER,
                callback_data=f"fe:c:{cid}:{index}",
                errors=[{"code": 131026, "title": "Message undeliverable"}]
                if status == "failed"
                else None,
            )
            assert (await stack.h.post_payload(payload)).status == 200
    c = await stack.wait_campaign(cid, lambda c: c["counts"]["read"] == 1)
    assert {k: c["counts"][k] for k in ("sent", "delivered", "read", "failed")} == {
        "sent": 0,
        "delivered": 2,
        "read": 1,
        "failed": 0,
    }
    c = await stack.wait_campaign(cid, done)
    assert c["state"] == "completed"


async def test_a_member_without_notifications_on_one_sender_gets_403_listing_it(
    stack: NotifyStack,
) -> None:
    token = await member_token(stack, "ana@example.com", ["notifications"], [NUMBER])
    text = "remitente,telefono\n15550000001,5491120000001\n5511955550002,5511911110002\n"
    body = {
        "name": "Dos",
        "sender_column": "remitente",
        "phone_column": "telefono",
        "template": {"name": "recordatorio_cita", "language": "es"},
        "parameters": {"body": {"nombre": "Ana", "fecha": "mañana"}},
        "csv": text,
    }
    r = await stack.api("POST", "/campaigns", body, token=token)
    assert r.status == 403 and r.body["error"]["details"]["numbers"] == [OTHER]
    assert (await stack.api("GET", "/campaigns")).body["campaigns"] == []
    assert await stack.templates_sent() == []
    ok = await stack.api("POST", "/campaigns", body)  # the super-admin may
    assert ok.status == 201, ok.body
    assert sorted(ok.body["campaign"]["senders"]) == [NUMBER, OTHER]
    c = await stack.wait_campaign(ok.body["campaign"]["id"], done)
    assert c["state"] == "completed"
    by_sender = Counter(m["phone_number_id"] for m in await stack.templates_sent())
    assert by_sender == Counter({NUMBER: 1, OTHER: 1})
    # the member sees the campaign of their number only, not one that also uses another
    mine = await stack.api("GET", "/campaigns", token=token)
    assert mine.body["campaigns"] == []
    seen = await stack.api("GET", f"/campaigns/{ok.body['campaign']['id']}", token=token)
    assert seen.status == 403


async def test_scheduled_gradual_start_in_the_senders_time_zone(stack: NotifyStack) -> None:
    sao_paulo = ZoneInfo("America/Sao_Paulo")
    start = datetime(2030, 3, 4, 9, 30)  # local time, no offset: the sender's zone
    contacts = phones(6)
    r = await stack.create_campaign(
        csv_of(contacts),
        **spec(start_at=start.isoformat(), batch_size=2, batch_interval_min=10),
    )
    assert r.status == 201, r.body
    cid = r.body["campaign"]["id"]
    assert r.body["campaign"]["state"] == "scheduled"
    lanes = await stack.app[STORAGE].notifications.lanes(cid)
    assert lanes[NUMBER]["next_at"] == start.replace(tzinfo=sao_paulo).timestamp()
    await asyncio.sleep(0.6)
    assert await stack.templates_sent() == []
    stack.clock.set(start.replace(tzinfo=sao_paulo))
    c = await stack.wait_campaign(cid, lambda c: c["counts"]["pending"] == 4)
    assert c["state"] == "running" and c["started_at"] is not None
    await asyncio.sleep(0.6)  # the next batch waits 10 minutes
    assert sum((await sent_to(stack)).values()) == 2
    stack.clock.advance(10 * 60 + 1)
    await stack.wait_campaign(cid, lambda c: c["counts"]["pending"] == 2)
    stack.clock.advance(10 * 60 + 1)
    c = await stack.wait_campaign(cid, lambda c: c["state"] == "completed")
    assert await sent_to(stack) == Counter(contacts)


async def test_a_reply_to_a_campaign_opens_a_ticket_with_the_rows_extras(
    stack: NotifyStack,
) -> None:
    contacts = phones(2)
    r = await stack.create_campaign(
        csv_of(contacts),
        **spec(
            reply={"queue": "Soporte técnico"},
            extras={"cliente": {"column": "cliente"}, "origen": "campaña"},
        ),
    )
    cid = r.body["campaign"]["id"]
    await stack.wait_campaign(cid, lambda c: c["state"] == "completed")
    await stack.h.say(contacts[1], "quiero saber más")
    c = await stack.wait_campaign(cid, lambda c: c["counts"]["replied"] == 1)
    assert c["counts"]["replied"] == 1
    for _ in range(100):
        found = (await stack.api("GET", f"/tickets?number={NUMBER}")).body["tickets"]
        if found:
            break
        await asyncio.sleep(0.05)
    (ticket,) = found
    assert ticket["queue"] == "Soporte técnico" and ticket["contact"] == contacts[1]
    assert ticket["extras"] == {"cliente": "C-1", "origen": "campaña"}


async def test_100000_rows_are_stored_in_chunks(stack: NotifyStack) -> None:
    contacts = phones(100_000)
    started = time.time()
    body = {
        "csv": csv_of(contacts, sep=","),
        **spec(separator=",", start_at="2099-01-01T00:00:00Z"),
    }
    r = await stack.api(
        "POST",
        "/campaigns",
        data=io.BytesIO(json.dumps(body).encode()),
        headers={"Content-Type": "application/json"},
    )
    assert r.status == 201, str(r.body)[:500]
    cid = r.body["campaign"]["id"]
    c = r.body["campaign"]
    assert c["state"] == "scheduled" and c["counts"]["total"] == 100_000
    store = stack.app[STORAGE].notifications
    last = await store.recipient(cid, 99_999)
    assert last is not None and last.phone == contacts[-1] and last.values[0] == "N99999"
    cancelled = await stack.api("POST", f"/campaigns/{cid}/cancel")
    assert cancelled.body["campaign"]["counts"]["skipped"] == 100_000
    assert await stack.templates_sent() == []
    assert started  # (the time is in the bench, not here)


async def member_token(
    stack: NotifyStack, email: str, modules: list[str], numbers: list[str]
) -> str:
    profile = await stack.api(
        "POST", "/profiles", {"name": "p " + email, "description": "", "modules": modules}
    )
    assert profile.status == 201, profile.body
    added = await stack.api(
        "POST",
        "/members",
        {
            "members": [{"name": email.split("@")[0], "email": email}],
            "profile_id": profile.body["id"],
            "numbers": numbers,
        },
    )
    assert added.status == 200, added.body
    member_id = added.body["items"][0]["member"]["id"]
    token = await stack.api("POST", f"/members/{member_id}/tokens", {"name": "t"})
    assert token.status == 201, token.body
    return str(token.body["token"])


async def test_multipart_upload(stack: NotifyStack) -> None:
    form = aiohttp.FormData()
    form.add_field("spec", json.dumps(spec(dry_run=True)), content_type="application/json")
    form.add_field("file", csv_of(phones(3)).encode(), filename="a.csv", content_type="text/csv")
    r = await stack.api("POST", "/campaigns", data=form)
    assert r.status == 200, r.body
    assert r.body["report"]["accepted"] == 3
