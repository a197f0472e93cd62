"""What holds the campaigns of a number at risk (issue 13 item 3, WHATSAPP.md's error
table), on memory and on Redis, through the real webhook path and the development gateway:
a number turning RED, and a code that restricts the account (368, 131031, 131042)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from flow_engine.domain.health import ClassChange
from flow_engine.web.state import HEALTH
from tests.notify.conftest import NUMBER, OTHER, NotifyStack
from tests.notify.test_campaigns import csv_of, phones, spec

RED = "quality rating RED"


def state_is(*states: str) -> Any:
    return lambda c: c["state"] in states


async def settled(stack: NotifyStack, number: str) -> int:
    """Sends from ``number`` once nothing more goes out (the sends in flight finished)."""
    await asyncio.sleep(0.6)
    before = await stack.sent_from(number)
    await asyncio.sleep(0.8)
    assert await stack.sent_from(number) == before, f"{number} still sends"
    return before


async def wait_health(stack: NotifyStack, number: str, klass: str) -> None:
    for _ in range(200):
        rows = (await stack.api("GET", "/health")).body["numbers"]
        if next(r for r in rows if r["number"] == number)["class"] == klass:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{number} is not {klass}")


async def test_a_number_turning_red_holds_its_running_campaigns_and_no_other(
    stack: NotifyStack,
) -> None:
    changes: list[ClassChange] = []

    async def seen(change: ClassChange) -> None:
        changes.append(change)

    stack.app[HEALTH].service.on_change(seen)
    for number in (NUMBER, OTHER):
        assert (await stack.refresh(number, quality_rating="GREEN"))["class"] == "good"
    start = datetime.fromtimestamp(stack.clock() + 3600, UTC).isoformat()
    mine = (await stack.create_campaign(csv_of(phones(120)), **spec(per_second=20))).body
    later = (await stack.create_campaign(csv_of(phones(5, 1000)), **spec(start_at=start))).body
    theirs = (
        await stack.create_campaign(csv_of(phones(40, 500)), **spec(number=OTHER, per_second=20))
    ).body
    cid, scheduled, other = (x["campaign"]["id"] for x in (mine, later, theirs))
    await stack.wait_campaign(cid, lambda c: c["counts"]["pending"] < 115)

    await stack.quality_update(NUMBER, "RED")  # the real webhook path, then the re-read
    c = await stack.wait_campaign(cid, state_is("needs_attention"), within=10)
    assert c["state"] == "needs_attention" and c["reason"] == RED
    sent = await settled(stack, NUMBER)
    assert sent < 120 and (await stack.campaign(cid))["counts"]["pending"] == 120 - sent
    # the scheduled one keeps its state: it is held when it would start (below)
    assert (await stack.campaign(scheduled))["state"] == "scheduled"
    # the other number's campaign goes on to the end
    c = await stack.wait_campaign(other, state_is("completed", "needs_attention"), within=20)
    assert c["state"] == "completed" and await stack.sent_from(OTHER) == 40

    # resuming is the admin's decision, and the same change does not hold it again
    (red,) = [x for x in changes if x.after == "bad"]
    resumed = await stack.api("POST", f"/campaigns/{cid}/resume")
    assert resumed.status == 200 and resumed.body["campaign"]["state"] == "running"
    for listener in stack.app[HEALTH].service.listeners:  # the change delivered again
        await listener(red)
    c = await stack.wait_campaign(cid, state_is("completed", "needs_attention"), within=30)
    assert c["state"] == "completed" and await stack.sent_from(NUMBER) == 120

    # the scheduled campaign's start comes while the number is still RED: held, nothing sent
    stack.clock.advance(3601)
    c = await stack.wait_campaign(scheduled, state_is("needs_attention", "running"))
    assert c["state"] == "needs_attention" and c["reason"] == RED
    assert await settled(stack, NUMBER) == 120


async def test_a_campaign_is_held_before_it_sends_from_a_number_already_red(
    stack: NotifyStack,
) -> None:
    await stack.refresh(NUMBER, quality_rating="GREEN")
    paused = (await stack.create_campaign(csv_of(phones(30, 50)), **spec(per_second=5))).body
    pid = paused["campaign"]["id"]
    assert (await stack.api("POST", f"/campaigns/{pid}/pause")).status == 200
    before = await settled(stack, NUMBER)
    await stack.quality_update(NUMBER, "RED")
    await wait_health(stack, NUMBER, "bad")
    await asyncio.sleep(0.5)  # the change reached the listeners: a paused campaign stays so
    assert (await stack.campaign(pid))["state"] == "paused"

    r = await stack.create_campaign(csv_of(phones(6)), **spec())
    assert r.status == 201, r.body
    cid = r.body["campaign"]["id"]
    c = await stack.wait_campaign(cid, state_is("needs_attention", "completed"))
    assert c["state"] == "needs_attention" and c["reason"] == RED
    assert await settled(stack, NUMBER) == before
    # the admin's resume of a held campaign sends, once, and is not undone
    assert (await stack.api("POST", f"/campaigns/{cid}/resume")).status == 200
    c = await stack.wait_campaign(cid, state_is("completed", "needs_attention"))
    assert c["state"] == "completed" and await stack.sent_from(NUMBER) == before + 6
    # a paused campaign resumed while the number is RED is held first: the admin learns why
    assert (await stack.api("POST", f"/campaigns/{pid}/resume")).status == 200
    c = await stack.wait_campaign(pid, state_is("needs_attention", "completed"))
    assert c["state"] == "needs_attention" and c["reason"] == RED
    assert await settled(stack, NUMBER) == before + 6
    # back to GREEN: campaigns go on without anyone's help
    await stack.quality_update(NUMBER, "GREEN", event="UNFLAGGED")
    await wait_health(stack, NUMBER, "good")
    fresh = (await stack.create_campaign(csv_of(phones(3, 80)), **spec())).body
    c = await stack.wait_campaign(fresh["campaign"]["id"], state_is("completed"), within=10)
    assert c["state"] == "completed"


async def test_368_holds_every_campaign_of_the_number_at_once(stack: NotifyStack) -> None:
    first, second, third = phones(200), phones(200, 300), phones(30, 600)
    await stack.switches(refuse={first[20]: 368})
    a = (await stack.create_campaign(csv_of(first), **spec(per_second=20))).body
    b = (await stack.create_campaign(csv_of(second), **spec(per_second=20))).body
    o = (await stack.create_campaign(csv_of(third), **spec(number=OTHER, per_second=20))).body
    ca, cb, co = (x["campaign"]["id"] for x in (a, b, o))
    c = await stack.wait_campaign(ca, state_is("needs_attention", "completed"), within=20)
    assert c["state"] == "needs_attention" and "368" in c["reason"]
    c = await stack.wait_campaign(cb, state_is("needs_attention", "completed"), within=5)
    assert c["state"] == "needs_attention" and "368" in c["reason"]
    sent = await settled(stack, NUMBER)
    pending = [(await stack.campaign(x))["counts"]["pending"] for x in (ca, cb)]
    assert min(pending) > 100 and sent == 400 - sum(pending)  # held at once, not at its end
    assert first[20] not in {m["to"] for m in await stack.templates_sent()}
    c = await stack.wait_campaign(co, state_is("completed", "needs_attention"), within=20)
    assert c["state"] == "completed" and await stack.sent_from(OTHER) == 30
    # resuming one is the admin's decision: it sends again (and meets no 368 of its own)
    await stack.switches(refuse={})
    assert (await stack.api("POST", f"/campaigns/{cb}/resume")).status == 200
    c = await stack.wait_campaign(cb, state_is("completed", "needs_attention"), within=30)
    assert c["state"] == "completed"
    assert (await stack.campaign(ca))["state"] == "needs_attention"
