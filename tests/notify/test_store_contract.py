"""The notification store's contract, on memory and on Redis (the ``storage`` fixture)."""

from __future__ import annotations

import time

from flow_engine.domain.campaigns import Campaign, CampaignState
from flow_engine.domain.notifications import Notification, TemplateRef
from flow_engine.storage.base import Storage
from flow_engine.storage.notifications import Recipient, StatusChange

NUMBER = "100000000000001"
T = TemplateRef(name="promo", language="es")


def campaign(cid: str = "cmp1", total: int = 5, **extra: object) -> Campaign:
    return Campaign.model_validate(
        {
            "id": cid,
            "name": "c",
            "state": "running",
            "number": NUMBER,
            "senders": [NUMBER],
            "template": T.model_dump(),
            "total": total,
            "created_at": time.time(),
            **extra,
        }
    )


async def make_campaign(storage: Storage, total: int = 5, cid: str = "cmp1") -> Campaign:
    st = storage.notifications
    c = campaign(cid, total)
    recs = [Recipient(i, f"54911000000{i:02d}", NUMBER, values=(f"v{i}",)) for i in range(total)]
    await st.add_recipients(cid, NUMBER, recs[:3])
    await st.add_recipients(cid, NUMBER, recs[3:])
    await st.create_campaign(c, {NUMBER: 0.0})
    return c


def sent(cid: str, rec: Recipient, wamid: str) -> tuple[Recipient, StatusChange]:
    return rec, StatusChange(f"c:{cid}:{rec.index}", "sent", time.time(), wamid=wamid)


async def test_claim_in_order_finish_and_counts(storage: Storage) -> None:
    st = storage.notifications
    await make_campaign(storage)
    now = time.time()
    claimed = await st.claim_recipients("cmp1", NUMBER, 2, now, now + 30)
    assert [r.index for r in claimed.recipients] == [0, 1]
    assert claimed.recipients[0].values == ("v0",)
    await st.finish("cmp1", [sent("cmp1", r, f"w{r.index}") for r in claimed.recipients], False)
    counts = await st.counts("cmp1")
    assert counts["total"] == 5 and counts["pending"] == 3 and counts["sent"] == 2
    rec = await st.recipient("cmp1", 0)
    assert rec is not None and rec.status == "sent" and rec.wamid == "w0" and rec.values == ()
    lanes = await st.lanes("cmp1")
    assert lanes[NUMBER]["todo"] == 3 and lanes[NUMBER]["inflight"] == 0


async def test_statuses_out_of_order_and_repeated_end_right(storage: Storage) -> None:
    st = storage.notifications
    await make_campaign(storage)
    now = time.time()
    (r0,) = (await st.claim_recipients("cmp1", NUMBER, 1, now, now + 30)).recipients
    ref = "c:cmp1:0"
    # the read comes first, then sent and delivered late, each twice
    for status in ["read", "sent", "read", "delivered", "sent", "delivered"]:
        await st.apply([StatusChange(ref, status, now + 5)])
    await st.finish("cmp1", [sent("cmp1", r0, "w0")], True)
    rec = await st.recipient("cmp1", 0)
    assert rec is not None
    assert rec.status == "read" and rec.wamid == "w0"
    assert rec.sent_at and rec.delivered_at and rec.read_at  # read counts as delivered too
    counts = await st.counts("cmp1")
    assert counts["read"] == 1 and counts.get("sent", 0) == 0 and counts.get("delivered", 0) == 0
    assert counts["pending"] == 4
    # a failure after the read does not undo it; a failed one stays failed
    await st.apply([StatusChange(ref, "failed", now + 6, code=131026, title="x")])
    assert (await st.recipient("cmp1", 0)).status == "read"  # type: ignore[union-attr]


async def test_a_status_before_the_mark_is_not_sent_again(storage: Storage) -> None:
    st = storage.notifications
    await make_campaign(storage, total=2)
    now = time.time()
    claimed = await st.claim_recipients("cmp1", NUMBER, 2, now, now + 0.01)
    # the driver dies after the sends; one status webhook arrives, the other does not
    await st.apply([StatusChange("c:cmp1:0", "delivered", now)])
    assert await st.recover("cmp1", now + 1) == 2
    again = await st.claim_recipients("cmp1", NUMBER, 5, now + 1, now + 30)
    assert [r.index for r in again.recipients] == [1]
    assert len(claimed.recipients) == 2


async def test_requeue_front_and_back(storage: Storage) -> None:
    st = storage.notifications
    await make_campaign(storage)
    now = time.time()
    first = (await st.claim_recipients("cmp1", NUMBER, 2, now, now + 30)).recipients
    await st.requeue("cmp1", NUMBER, first[:1], front=True)
    await st.requeue("cmp1", NUMBER, first[1:], front=False)
    order = (await st.claim_recipients("cmp1", NUMBER, 10, now, now + 30)).recipients
    assert [r.index for r in order] == [0, 2, 3, 4, 1]


async def test_batches_wait_between(storage: Storage) -> None:
    st = storage.notifications
    await make_campaign(storage)
    now = time.time()
    got = await st.claim_recipients("cmp1", NUMBER, 10, now, now + 30, 2, 60.0)
    assert len(got.recipients) == 2
    wait = await st.claim_recipients("cmp1", NUMBER, 10, now + 1, now + 30, 2, 60.0)
    assert wait.recipients == [] and wait.wait_until is not None
    assert abs(wait.wait_until - (now + 60)) < 1
    later = await st.claim_recipients("cmp1", NUMBER, 10, now + 61, now + 90, 2, 60.0)
    assert [r.index for r in later.recipients] == [2, 3]


async def test_cancel_counts_the_rest_skipped(storage: Storage) -> None:
    st = storage.notifications
    await make_campaign(storage)
    now = time.time()
    claimed = (await st.claim_recipients("cmp1", NUMBER, 1, now, now + 30)).recipients
    await st.finish("cmp1", [sent("cmp1", claimed[0], "w")], False)
    done = await st.transition("cmp1", {"running"}, "cancelled", {"finished_at": now})
    assert done is not None and done.state == CampaignState.CANCELLED
    counts = await st.counts("cmp1")
    assert counts["skipped"] == 4 and counts["pending"] == 0 and counts["sent"] == 1
    assert await st.transition("cmp1", {"running"}, "paused", {}) is None
    page, _next = await st.recipients("cmp1", status="skipped", limit=10)
    assert [r.index for r in page] == [1, 2, 3, 4]
    assert await st.active() == []


async def test_a_marked_transition_happens_once_per_mark(storage: Storage) -> None:
    """A hold for a health change (its id the mark) is written once: after the admin's
    resume, the same change delivered again writes nothing; a new change holds again."""
    st = storage.notifications
    await make_campaign(storage)
    active = {"running", "waiting_limit"}
    held = await st.transition("cmp1", active, "needs_attention", {"reason": "r"}, marks=["n:2"])
    assert held is not None and held.state == CampaignState.NEEDS_ATTENTION
    assert held.held_by == ["n:2"]
    resumed = await st.transition("cmp1", {"needs_attention"}, "running", {"reason": None})
    assert resumed is not None and resumed.held_by == ["n:2"]
    assert await st.transition("cmp1", active, "needs_attention", {}, marks=["n:2"]) is None
    doc = await st.campaign("cmp1")
    assert doc is not None and doc.state == CampaignState.RUNNING and doc.reason is None
    # one mark not seen yet is enough; every mark is kept
    again = await st.transition("cmp1", active, "needs_attention", {}, marks=["n:2", "m:4"])
    assert again is not None and again.held_by == ["n:2", "m:4"]
    assert (await st.campaign("cmp1")).held_by == ["n:2", "m:4"]  # type: ignore[union-attr]


async def test_messaging_limit_window(storage: Storage) -> None:
    st = storage.notifications
    now = time.time()
    allowed, frees = await st.reach(NUMBER, ["a", "b", "c"], 2, now)
    assert allowed == [True, True, False] and frees is not None
    assert abs(frees - (now + 24 * 3600)) < 1
    allowed, _ = await st.reach(NUMBER, ["a", "d"], 2, now + 10)  # a is already reached
    assert allowed == [True, False]
    allowed, frees = await st.reach(NUMBER, ["d"], 2, now + 24 * 3600 + 5)  # b freed
    assert allowed == [True]
    allowed, frees = await st.reach(NUMBER, ["x"] * 3, None, now)
    assert allowed == [True] * 3 and frees is None


async def test_individual_idempotent_create_and_forward_only(storage: Storage) -> None:
    st = storage.notifications
    now = time.time()
    n = Notification(id="n1", number=NUMBER, to="5491100000000", template=T, created_at=now)
    _stored, created = await st.create(n, "key-1", now)
    assert created
    other = n.model_copy(update={"id": "n2"})
    again, created = await st.create(other, "key-1", now)
    assert not created and again.id == "n1"
    assert await st.get("n2") is None
    assert await st.due(now + 1) == ["n1"]
    assert await st.claim("n1", "me", 5000)
    assert not await st.claim("n1", "other", 5000)
    done = await st.settle("n1", {"status": "sent", "wamid": "w1", "at": now}, None)
    assert done is not None and done.status == "sent" and done.wamid == "w1"
    assert await st.due(now + 1) == []
    moved = await st.apply(
        [StatusChange("n:n1", "read", now + 2), StatusChange("n:n1", "delivered", now + 1)]
    )
    assert [(t.before, t.after) for t in moved] == [("sent", "read")]
    final = await st.get("n1")
    assert final is not None and final.status == "read" and final.delivered_at == now + 2
    listed = await st.list(NUMBER, status="read")
    assert [x.id for x in listed] == ["n1"]


async def test_reply_marks_once_and_recognises_a_rerun(storage: Storage) -> None:
    st = storage.notifications
    await make_campaign(storage, total=1)
    now = time.time()
    (r0,) = (await st.claim_recipients("cmp1", NUMBER, 1, now, now + 30)).recipients
    await st.finish("cmp1", [sent("cmp1", r0, "w0")], True)
    await st.remember(NUMBER, {r0.phone: "c:cmp1:0"}, now)
    ref = await st.reply_ref(NUMBER, r0.phone, now + 60)
    assert ref is not None and ref.ref == "c:cmp1:0"
    assert await st.reply_ref(NUMBER, r0.phone, now + 8 * 24 * 3600) is None
    assert await st.mark_replied("c:cmp1:0", "in-1", now + 60)
    assert await st.mark_replied("c:cmp1:0", "in-1", now + 61)  # the same message again
    assert not await st.mark_replied("c:cmp1:0", "in-2", now + 62)
    assert (await st.counts("cmp1"))["replied"] == 1


async def test_lease_one_driver(storage: Storage) -> None:
    st = storage.notifications
    await make_campaign(storage)
    assert await st.acquire("cmp1", "a", 5000)
    assert not await st.acquire("cmp1", "b", 5000)
    assert await st.acquire("cmp1", "a", 5000)
    await st.release("cmp1", "a")
    assert await st.acquire("cmp1", "b", 5000)


async def test_rate_reservation_spaces_slots(storage: Storage) -> None:
    st = storage.notifications
    waits = [await st.reserve(NUMBER, 10.0, 0.5, 5) for _ in range(3)]
    # lane at 5/s (interval 0.2 s, burst 1 s): after the burst, a chunk of 5 per second
    assert waits[0] == 0.0
    assert 0.1 < waits[1] <= 0.2 and 1.1 < waits[2] <= 1.2
    # the shared limiter moved too: a reply now waits behind the reserved sends
    assert await storage.rates.reserve(NUMBER, 10.0) > 0
