"""The health table, its filters and CSV, a member's view, live quality webhooks and the
gateway facts of a number: a real engine and the stand-in Graph API, both on loopback."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from structlog.testing import capture_logs

from flow_engine.devtools import webhooks
from flow_engine.devtools.fake_numbers import account_update_payload, quality_update_payload
from tests.health.conftest import LINES, N1, N2, N3, N4, WABA, Stack
from tests.support.harness import APP_SECRET


async def classes(stack: Stack, ratings: dict[str, str]) -> None:
    for number, rating in ratings.items():
        stack.set_number(number, quality_rating=rating)
        await stack.refresh(number)


async def post(stack: Stack, payload: dict[str, Any]) -> Any:
    body, headers = webhooks.signed_request(payload, APP_SECRET)
    async with stack.session.post(
        stack.engine_url + "/webhooks/whatsapp", data=body, headers=headers
    ) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


def by_number(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["number"]: r for r in table["numbers"]}


async def test_numbers_in_each_class_with_counts_filter_search_and_csv(stack: Stack) -> None:
    before = time.time()
    await classes(stack, {N1: "GREEN", N2: "YELLOW", N3: "RED", N4: "NA"})
    table = (await stack.admin.call("GET", "/health")).body
    assert table["counts"] == {"good": 1, "medium": 1, "bad": 1, "unknown": 1}
    rows = by_number(table)
    assert {n: r["class"] for n, r in rows.items()} == {
        N1: "good",
        N2: "medium",
        N3: "bad",
        N4: "unknown",
    }
    r3 = rows[N3]
    assert (r3["name"], r3["display_phone_number"], r3["quality_rating"]) == (
        "Farmacia Sul",
        LINES[N3][0],
        "RED",
    )
    assert r3["messaging_limit"] == "TIER_2K" and r3["status"] == "CONNECTED"
    assert before <= r3["checked_at"] <= time.time() and r3["changed_at"] == r3["checked_at"]

    bad = (await stack.admin.call("GET", "/health?class=bad")).body
    assert [r["number"] for r in bad["numbers"]] == [N3]
    assert bad["counts"] == table["counts"]  # the cards keep every class

    farmacias = (await stack.admin.call("GET", "/health?q=farmacia")).body
    assert sorted(r["number"] for r in farmacias["numbers"]) == [N3, N4]
    assert farmacias["counts"] == {"good": 0, "medium": 0, "bad": 1, "unknown": 1}
    phone = (await stack.admin.call("GET", "/health?q=%2B55%2011%2090000-0002")).body
    assert [r["number"] for r in phone["numbers"]] == [N2]
    both = (await stack.admin.call("GET", "/health?q=farmacia&class=unknown")).body
    assert [r["number"] for r in both["numbers"]] == [N4]

    exported = await stack.admin.call("GET", "/health?format=csv&q=farmacia")
    assert exported.status == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(exported.body)))
    assert [(r["number"], r["class"], r["quality_rating"]) for r in parsed] == [
        (r["number"], r["class"], r["quality_rating"] or "") for r in farmacias["numbers"]
    ]
    assert parsed[0]["name"] == farmacias["numbers"][0]["name"]
    assert parsed[0]["checked_at"].endswith("Z")

    refused = await stack.admin.call("GET", "/health?class=awful")
    assert refused.status == 422 and refused.body["error"]["details"][0]["field"] == "class"


async def test_a_member_sees_only_their_numbers(stack: Stack) -> None:
    await classes(stack, {N1: "GREEN", N2: "RED", N3: "RED", N4: "YELLOW"})
    member = await stack.admin.member_token("ana@example.com", ["health"], [N1, N3])
    mine = await stack.admin.call("GET", "/health", token=member)
    assert mine.status == 200
    assert sorted(r["number"] for r in mine.body["numbers"]) == [N1, N3]
    assert mine.body["counts"] == {"good": 1, "medium": 0, "bad": 1, "unknown": 0}
    exported = await stack.admin.call("GET", "/health?format=csv", token=member)
    assert sorted(r["number"] for r in csv.DictReader(io.StringIO(exported.body))) == [N1, N3]
    assert N2 not in exported.body and N4 not in exported.body
    for path in (f"/numbers/{N2}/health/history", f"/numbers/{N2}/gateway/refresh"):
        method = "POST" if path.endswith("refresh") else "GET"
        assert (await stack.admin.call(method, path, token=member)).status == 403
    assert (
        await stack.admin.call("GET", f"/numbers/{N3}/health/history", token=member)
    ).status == 200
    # linked to the numbers but without the health module
    other = await stack.admin.member_token("bia@example.com", ["config"], [N1, N3])
    refused = await stack.admin.call("GET", "/health", token=other)
    assert refused.status == 403 and refused.body["error"]["details"]["module"] == "health"


async def test_a_quality_webhook_changes_the_class_at_once(stack: Stack) -> None:
    await classes(stack, {N1: "GREEN"})
    assert (await stack.wait_class(N1, "good"))["quality_rating"] == "GREEN"
    await stack.quality_update(N1, "FLAGGED", rating="RED")  # names the display number only
    row = await stack.wait_class(N1, "bad", within=5)
    assert row["quality_rating"] == "RED"
    history = (await stack.admin.call("GET", f"/numbers/{N1}/health/history")).body
    assert [(c["from"], c["to"], c["cause"]) for c in history["changes"]] == [
        ("good", "bad", "webhook"),
        ("unknown", "good", "refresh"),
    ]
    (event,) = history["events"]
    assert (event["field"], event["event"], event["waba_id"]) == (
        "phone_number_quality_update",
        "FLAGGED",
        WABA,
    )
    assert event["value"]["display_phone_number"] == LINES[N1][0]
    (today,) = history["days"]
    assert today["class"] == "bad" and today["quality_rating"] == "RED"
    # the other numbers were not read again
    assert stack.numbers.reads.get(N2, 0) == 0
    number = (await stack.admin.call("GET", f"/numbers/{N1}")).body
    facts = number["gateway"]
    assert facts["class"] == "bad" and facts["waba_id"] == WABA
    assert facts["fields"]["quality_rating"]["value"] == "RED"
    assert facts["fields"]["quality_rating"]["read_at"] >= row["checked_at"] - 1e-6
    assert facts["fields"]["throughput"]["value"] == {"level": "STANDARD"}
    assert set(facts["fields"]) == {
        "display_phone_number",
        "verified_name",
        "quality_rating",
        "status",
        "name_status",
        "code_verification_status",
        "throughput",
        "whatsapp_business_manager_messaging_limit",
    }


async def test_unknown_events_are_kept_and_a_redelivery_kept_once(stack: Stack) -> None:
    display = LINES[N2][0]
    new_kind = quality_update_payload(
        display, "SOMETHING_META_ADDS_LATER", waba_id=WABA, at=1748454394
    )
    new_kind["entry"][0]["changes"][0]["value"]["brand_new_field"] = {"x": 1}
    answer = await post(stack, new_kind)
    assert answer["events"] == 1
    await post(stack, new_kind)  # Meta redelivers
    restricted = account_update_payload(
        "ACCOUNT_RESTRICTION",
        waba_id=WABA,
        extra={"restriction_info": [{"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING"}]},
        at=1748454999,
    )
    await post(stack, restricted)  # names the WABA only: learned from the first event
    named = account_update_payload("NOT_A_NAME_WE_KNOW", phone_number=display, at=1748455000)
    await post(stack, named)
    history = (await stack.admin.call("GET", f"/numbers/{N2}/health/history")).body
    assert [e["event"] for e in history["events"]] == [
        "NOT_A_NAME_WE_KNOW",
        "ACCOUNT_RESTRICTION",
        "SOMETHING_META_ADDS_LATER",
    ]
    assert history["events"][2]["value"]["brand_new_field"] == {"x": 1}
    assert history["events"][2]["at"] == 1748454394
    assert history["events"][1]["value"]["restriction_info"][0]["restriction_type"] == (
        "RESTRICTED_BIZ_INITIATED_MESSAGING"
    )
    # each event made the engine re-read the number
    await stack.wait_class(N2, "good")
    assert stack.numbers.reads[N2] >= 1


async def test_an_event_for_a_number_we_do_not_serve_is_answered_and_logged(
    stack: Stack,
) -> None:
    with capture_logs() as logs:
        answer = await post(stack, quality_update_payload("19998887777", "FLAGGED"))
    assert answer["events"] == 1
    (unmatched,) = [e for e in logs if e["event"] == "health_event_unmatched"]
    assert unmatched["display"] == "199…7777"  # masked
    assert "19998887777" not in str(logs)


async def test_a_refresh_refused_by_the_gateway_is_a_502_with_metas_error(stack: Stack) -> None:
    await classes(stack, {N1: "YELLOW"})
    stack.numbers.token = "another-token"  # the gateway no longer accepts ours
    reply = await stack.admin.call("POST", f"/numbers/{N1}/gateway/refresh")
    assert reply.status == 502
    error = reply.body["error"]
    assert error["code"] == "gateway_error"
    assert error["details"]["code"] == 190 and error["details"]["fbtrace_id"].startswith("Fake")
    assert error["details"]["error"]["type"] == "OAuthException"
    facts = (await stack.admin.call("GET", f"/numbers/{N1}")).body["gateway"]
    assert facts["class"] == "medium"  # what was known stays
    assert facts["error"]["code"] == 190
    missing = await stack.admin.call("POST", "/numbers/999/gateway/refresh")
    assert missing.status == 404


async def test_metrics_count_the_classes_and_the_changes(stack: Stack) -> None:
    await classes(stack, {N1: "GREEN", N2: "RED", N3: "RED"})
    async with stack.session.get(stack.engine_url + "/metrics") as resp:
        text = await resp.text()
    assert 'flow_engine_numbers_health{class="bad"} 2.0' in text
    assert 'flow_engine_numbers_health{class="good"} 1.0' in text
    assert 'flow_engine_numbers_health{class="unknown"} 1.0' in text
    assert 'flow_engine_health_changes_total{from="unknown",to="bad"} 2.0' in text
