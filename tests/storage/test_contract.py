"""One contract, two backends: every test runs on memory and on a real redis-server."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from flow_engine.domain.conversation import Conversation
from flow_engine.domain.inbound import InboundMessage, StatusUpdate
from flow_engine.errors import VersionConflict
from flow_engine.storage.base import Storage
from flow_engine.storage.outbox import OutboxItem, SendClaim
from flow_engine.storage.queue import ScheduledEvent


def msg(i: int, contact: str = "5511999990001") -> InboundMessage:
    return InboundMessage(
        message_id=f"wamid.{contact}.{i}", number="100", contact=contact, type="text", text=f"m{i}"
    )


async def test_enqueue_dedupes_atomically(storage: Storage) -> None:
    assert await storage.queue.enqueue(0, msg(1)) is True
    assert await storage.queue.enqueue(0, msg(1)) is False
    assert await storage.queue.enqueue_many([(0, msg(2)), (0, msg(2)), (0, msg(1))]) == [
        True,
        False,
        False,
    ]
    assert await storage.queue.depth() == 2


async def test_read_in_order_after_cursor(storage: Storage) -> None:
    for i in range(5):
        await storage.queue.enqueue(1, msg(i))
    entries = await storage.queue.read(1, "0-0", 3, 0)
    assert [e.message.text for e in entries] == ["m0", "m1", "m2"]
    rest = await storage.queue.read(1, entries[-1].id, 10, 0)
    assert [e.message.text for e in rest] == ["m3", "m4"]
    assert await storage.queue.read(2, "0-0", 10, 0) == []


async def test_blocking_read_wakes_on_enqueue(storage: Storage) -> None:
    reader = asyncio.create_task(storage.queue.read(3, "0-0", 10, 5000))
    await asyncio.sleep(0.1)
    assert not reader.done()
    await storage.queue.enqueue(3, msg(7))
    entries = await asyncio.wait_for(reader, 3)
    assert [e.message.text for e in entries] == ["m7"]


async def test_commit_saves_acks_and_appends_outbox(storage: Storage) -> None:
    await storage.queue.enqueue(0, msg(1))
    (entry,) = await storage.queue.read(0, "0-0", 10, 0)
    conv = Conversation(number="100", contact="5511999990001", state="greeted")
    item = OutboxItem("100", "5511999990001", "k:0", "send", {"type": "text", "body": "hi"})
    result = await storage.conversations.commit(0, conv, entry, [item, item])
    assert [e.item for e in result.outbox] == [item, item]
    saved = await storage.conversations.load(0, "100", "5511999990001")
    assert saved is not None and saved.version == 1 and saved.state == "greeted"
    assert saved.last_entry == entry.id
    assert await storage.queue.read(0, "0-0", 10, 0) == []
    assert [e.id for e in await storage.outbox.pending(0)] == [e.id for e in result.outbox]


async def test_each_load_is_a_record_of_its_own(storage: Storage) -> None:
    """The runtime changes a loaded record in place during a turn: a load never hands out
    an object another load (or the store itself) shares, down to the nested data."""
    conv = Conversation(number="100", contact="5511999990001", data={"menu": {"page": 1}})
    await storage.conversations.commit(0, conv, None, [])
    first = await storage.conversations.load(0, "100", "5511999990001")
    assert first is not None
    first.state = "changed"
    first.data["menu"]["page"] = 2
    second = await storage.conversations.load(0, "100", "5511999990001")
    assert second is not None and second is not first
    assert second.state == "start" and second.data == {"menu": {"page": 1}}
    assert second.version == 1


async def test_commit_refuses_stale_version(storage: Storage) -> None:
    await storage.queue.enqueue(0, msg(1))
    (entry,) = await storage.queue.read(0, "0-0", 10, 0)
    conv = Conversation(number="100", contact="5511999990001")
    await storage.conversations.commit(0, conv, None, [])
    item = OutboxItem("100", "5511999990001", "k:0", "send", {"type": "text", "body": "x"})
    with pytest.raises(VersionConflict):
        await storage.conversations.commit(0, conv, entry, [item])  # still version 0
    # nothing of the refused commit happened
    assert len(await storage.queue.read(0, "0-0", 10, 0)) == 1
    assert await storage.outbox.pending(0) == []


async def test_outbox_complete_marks_sent(storage: Storage) -> None:
    conv = Conversation(number="100", contact="c1")
    item = OutboxItem("100", "c1", "w1:0", "send", {"type": "text", "body": "x"})
    result = await storage.conversations.commit(0, conv, None, [item])
    assert await storage.outbox.was_sent(0, "w1:0") is False
    await storage.outbox.complete(result.outbox[0], "wamid.1")
    assert await storage.outbox.was_sent(0, "w1:0") is True
    assert await storage.outbox.pending(0) == []
    assert await storage.outbox.depth() == 0


async def test_outbox_keeps_a_retry_due_time_until_completed(storage: Storage) -> None:
    conv = Conversation(number="100", contact="c1")
    items = [
        OutboxItem("100", "c1", f"w1:{i}", "send", {"type": "text", "body": "x"}) for i in (0, 1)
    ]
    first, second = (await storage.conversations.commit(0, conv, None, items)).outbox
    assert (first.due, first.attempts, first.first_try) == (0.0, 0, 0.0)  # never tried
    retry = dataclasses.replace(first, due=1700000016.5, attempts=3, first_try=1700000000.25)
    await storage.outbox.schedule_retry(retry)
    assert await storage.outbox.pending(0) == [retry, second]
    later = dataclasses.replace(retry, due=1700000080.0, attempts=4)
    await storage.outbox.schedule_retry(later)  # the newest state replaces the last one
    assert await storage.outbox.pending(0) == [later, second]
    await storage.outbox.complete(later, "wamid.1")
    assert await storage.outbox.pending(0) == [second]
    await storage.outbox.schedule_retry(later)  # late, after the completion: kept out
    assert await storage.outbox.pending(0) == [second]


async def test_dead_letter_removes_entry(storage: Storage) -> None:
    await storage.queue.enqueue(0, msg(1))
    (entry,) = await storage.queue.read(0, "0-0", 10, 0)
    await storage.queue.dead_letter(entry, "boom")
    assert await storage.queue.read(0, "0-0", 10, 0) == []


async def test_leases_are_exclusive_and_expire(storage: Storage) -> None:
    leases = storage.leases
    assert await leases.acquire(0, "a", 300)
    assert not await leases.acquire(0, "b", 300)
    assert await leases.renew(0, "a", 300)
    assert not await leases.renew(0, "b", 300)
    await asyncio.sleep(0.45)
    assert await leases.acquire(0, "b", 300)
    assert not await leases.renew(0, "a", 300)
    await leases.release(0, "a")  # not the holder: no effect
    assert not await leases.acquire(0, "a", 300)
    await leases.release(0, "b")
    assert await leases.acquire(0, "a", 300)


async def test_a_vanished_lease_is_taken_back_by_its_holder(storage: Storage) -> None:
    leases = storage.leases
    assert await leases.acquire(0, "a", 200)
    await asyncio.sleep(0.3)  # expired while the store could not be reached, or was wiped
    assert await leases.renew(0, "a", 300)
    assert not await leases.acquire(0, "b", 300)


async def test_heartbeat_counts_live_processes(storage: Storage) -> None:
    assert await storage.leases.heartbeat("a", 300) == (1, True)
    assert await storage.leases.heartbeat("b", 300) == (2, True)
    await storage.leases.leave("b")
    assert await storage.leases.heartbeat("a", 300) == (1, False)


async def test_heartbeat_says_when_the_store_had_forgotten_the_process(storage: Storage) -> None:
    assert (await storage.leases.heartbeat("a", 200)).rejoined
    assert not (await storage.leases.heartbeat("a", 200)).rejoined
    await asyncio.sleep(0.3)  # its heartbeat expired (or the store lost its data)
    assert (await storage.leases.heartbeat("a", 200)).rejoined


async def test_rate_limiter_spaces_sends_after_burst(storage: Storage) -> None:
    waits = [await storage.rates.reserve("100", 10.0) for _ in range(15)]
    assert all(w == 0 for w in waits[:9])
    assert waits[-1] > 0.3  # 15 reservations at 10/s with a 1 s burst
    assert waits == sorted(waits)
    assert await storage.rates.reserve("200", 10.0) == 0  # per number


async def test_configs_and_events(storage: Storage) -> None:
    await storage.configs.put("100", {"a": 1})
    await storage.configs.put("200", {"b": 2})
    assert await storage.configs.get("100") == {"a": 1}
    assert await storage.configs.get("300") is None
    assert await storage.configs.numbers() == ["100", "200"]
    st = StatusUpdate(
        message_id="w1", number="100", recipient="c", status="failed", error_code=131026
    )
    await storage.events.record_statuses([st])
    assert await storage.events.statuses("100") == [st]
    await storage.events.record_send_failure("100", "c", "w:0", 131026, "undeliverable")
    (failure,) = await storage.events.send_failures("100")
    assert failure["code"] == 131026 and failure["key"] == "w:0"


async def test_claims_keep_two_processes_from_sending_the_same_entry(storage: Storage) -> None:
    conv = Conversation(number="100", contact="c1")
    item = OutboxItem("100", "c1", "w1:0", "send", {"type": "text", "body": "x"})
    (entry,) = (await storage.conversations.commit(0, conv, None, [item])).outbox
    assert await storage.outbox.claim(entry, "a", 300) == "ok"
    assert await storage.outbox.claim(entry, "b", 300) == "busy"
    assert await storage.outbox.claim(entry, "a", 300) == "ok"  # the holder extends it
    await asyncio.sleep(0.45)
    assert await storage.outbox.claim(entry, "b", 300) == "ok"  # expired: taken over
    await storage.outbox.complete(entry, "wamid.1")
    assert await storage.outbox.claim(entry, "a", 300) == "sent"


async def test_a_commit_can_take_the_send_claims_of_its_replies(storage: Storage) -> None:
    conv = Conversation(number="100", contact="c1")
    items = [
        OutboxItem("100", "c1", f"w1:{i}", "send", {"type": "text", "body": "x"}) for i in range(2)
    ]
    before = time.monotonic()
    result = await storage.conversations.commit(0, conv, None, items, claim=SendClaim("a", 300))
    for entry in result.outbox:
        assert before <= entry.claimed_at <= time.monotonic()
        assert await storage.outbox.claim(entry, "b", 300) == "busy"  # held for "a"
        assert await storage.outbox.claim(entry, "a", 300) == "ok"
    await asyncio.sleep(0.45)
    assert await storage.outbox.claim(result.outbox[1], "b", 300) == "ok"  # it expires
    await storage.outbox.complete(result.outbox[0], "wamid.1")
    assert await storage.outbox.claim(result.outbox[0], "b", 300) == "sent"
    # without a claim the commit takes none
    conv1 = await storage.conversations.load(0, "100", "c1")
    assert conv1 is not None
    item = OutboxItem("100", "c1", "w2:0", "send", {"type": "text", "body": "y"})
    (plain,) = (await storage.conversations.commit(0, conv1, None, [item])).outbox
    assert plain.claimed_at == 0.0
    assert await storage.outbox.claim(plain, "b", 300) == "ok"


async def test_a_commit_that_lost_its_version_race_claims_nothing(storage: Storage) -> None:
    conv = Conversation(number="100", contact="c1")
    await storage.conversations.commit(0, conv, None, [])
    item = OutboxItem("100", "c1", "w1:0", "send", {"type": "text", "body": "x"})
    with pytest.raises(VersionConflict):
        await storage.conversations.commit(0, conv, None, [item], claim=SendClaim("a", 5000))
    # the claim was not taken: the entry committed by another turn is anyone's to claim
    other = Conversation(number="100", contact="c2")
    (saved,) = (await storage.conversations.commit(0, other, None, [item])).outbox
    assert await storage.outbox.claim(saved, "b", 300) == "ok"


async def test_commit_reports_the_conversation_backlog(storage: Storage) -> None:
    conv = Conversation(number="100", contact="c1")
    item = OutboxItem("100", "c1", "w1:0", "send", {"type": "text", "body": "x"})
    first = await storage.conversations.commit(0, conv, None, [item, item])
    assert first.unsent_before == 0
    await storage.outbox.complete(first.outbox[0], None)
    await storage.outbox.complete(first.outbox[0], None)  # twice: counted once
    conv1 = await storage.conversations.load(0, "100", "c1")
    assert conv1 is not None
    second = await storage.conversations.commit(0, conv1, None, [item])
    assert second.unsent_before == 1
    other = await storage.conversations.commit(
        0, Conversation(number="100", contact="c2"), None, []
    )
    assert other.unsent_before == 0


async def test_scheduled_events_move_to_the_queue_once_when_due(storage: Storage) -> None:
    conv = Conversation(number="100", contact="c1")
    ev = InboundMessage(
        message_id="ev:j1", number="100", contact="c1", type="event", event="notify_available"
    )
    ev2 = ev.model_copy(update={"message_id": "ev:j2"})
    jobs = [
        ScheduledEvent("j1", 1000.0, ev),
        ScheduledEvent("j2", 2000.0, ev2),
        ScheduledEvent("j3", 1500.0, ev),
    ]
    await storage.conversations.commit(0, conv, None, [], jobs)
    conv1 = await storage.conversations.load(0, "100", "c1")
    assert conv1 is not None
    await storage.conversations.commit(0, conv1, None, [], [ScheduledEvent("j3", None)])
    assert await storage.queue.release_due(0, 999.0) == 0
    assert await storage.queue.release_due(0, 1600.0) == 1  # j1; j3 was cancelled
    assert await storage.queue.release_due(0, 1600.0) == 0  # never twice
    assert await storage.queue.release_due(0, 5000.0) == 1
    entries = await storage.queue.read(0, "0-0", 10, 0)
    assert [e.message.message_id for e in entries] == ["ev:j1", "ev:j2"]
    assert entries[0].message.event == "notify_available"


async def test_survey_answers_are_kept(storage: Storage) -> None:
    assert await storage.events.record_survey("100", "c1", "nps", 0, "t_1", 10.0, answer_id="m1")
    assert await storage.events.record_survey("100", "c2", "nps", 10, "t_2", 11.0, answer_id="m2")
    assert [(s["contact"], s["score"]) for s in await storage.events.surveys("100")] == [
        ("c1", 0),
        ("c2", 10),
    ]
    assert await storage.events.surveys("200") == []


async def test_issue9_a_survey_answer_is_recorded_once_per_answer_id(storage: Storage) -> None:
    events = storage.events
    assert await events.record_survey("100", "c1", "csat", 4, "t_1", 10.0, answer_id="m1")
    assert not await events.record_survey("100", "c1", "csat", 4, "t_1", 10.5, answer_id="m1")
    # the same message id on another number is another answer
    assert await events.record_survey("200", "c1", "csat", 3, "t_2", 11.0, answer_id="m1")
    assert [s["score"] for s in await events.surveys("100")] == [4]
    assert [s["score"] for s in await events.surveys("200")] == [3]


async def test_renew_many_renews_only_own_leases(storage: Storage) -> None:
    assert await storage.leases.acquire(0, "a", 300)
    assert await storage.leases.acquire(1, "b", 300)
    assert await storage.leases.acquire(2, "a", 300)
    assert await storage.leases.renew_many([0, 1, 2], "a", 300) == [True, False, True]
    assert await storage.leases.renew_many([], "a", 300) == []
