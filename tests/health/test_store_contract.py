"""The health store's contract, on the memory store and on a real Redis."""

from __future__ import annotations

import asyncio

from flow_engine.domain.health import (
    HISTORY_KEPT,
    ClassChange,
    DailySnapshot,
    HealthClass,
    HealthEvent,
    NumberHealth,
    oldest_kept_day,
)
from flow_engine.storage.base import Storage
from flow_engine.storage.health import HealthStore, NewJob, Outcome

N = "300000000000001"
DAY = "2025-03-10"


def read(rating: str, at: float, day: str = DAY) -> object:
    """A change of a record: a read of the gateway saying ``rating``, kept as ``day``'s."""

    def change(h: NumberHealth) -> Outcome:
        after, klass = h.after_read({"quality_rating": rating}, at=at, cause="test")
        return after, klass, after.snapshot(day)

    return change


def alert_jobs(change: ClassChange) -> list[NewJob]:
    return [NewJob("alert", change.id, change.at, change.model_dump_json())]


async def test_a_read_is_saved_with_its_snapshot_change_and_jobs(storage: Storage) -> None:
    store: HealthStore = storage.health
    assert await store.get(N) is None
    saved, change = await store.update(
        N, read("GREEN", 100.0), oldest_day=oldest_kept_day(DAY), jobs=alert_jobs
    )
    assert saved.version == 1 and saved.health is HealthClass.GOOD
    assert change is not None and (change.before, change.after) == ("unknown", "good")
    assert change.id == f"{N}:1"
    assert await store.get(N) == saved
    assert [s.health for s in await store.snapshots(N)] == [HealthClass.GOOD]
    assert await store.changes(N) == [change]
    jobs = await store.claim("alert", 100.0, 30.0)
    assert [(j.key, ClassChange.model_validate_json(j.payload)) for j in jobs] == [
        (change.id, change)
    ]
    # the same rating again: no change of class, no job, a newer snapshot of the day
    again, none = await store.update(
        N, read("GREEN", 200.0), oldest_day=oldest_kept_day(DAY), jobs=alert_jobs
    )
    assert none is None and again.version == 2
    assert [s.checked_at for s in await store.snapshots(N)] == [200.0]
    assert await store.pending("alert") == 1


async def test_racing_reads_record_each_change_once(storage: Storage) -> None:
    store = storage.health
    ratings = ["RED" if i % 2 else "GREEN" for i in range(20)]
    await asyncio.gather(
        *(
            store.update(N, read(r, 100.0 + i), oldest_day="2025-01-01", jobs=alert_jobs)
            for i, r in enumerate(ratings)
        )
    )
    record = await store.get(N)
    assert record is not None and record.version == 20
    changes = await store.changes(N, limit=1000)
    # every change recorded follows the one before it, and numbers itself in order
    assert len(changes) == record.changes
    assert [c.id for c in reversed(changes)] == [f"{N}:{i}" for i in range(1, record.changes + 1)]
    for older, newer in zip(reversed(changes), list(reversed(changes))[1:], strict=False):
        assert older.after == newer.before
    assert await store.pending("alert") == record.changes


async def test_one_snapshot_per_day_and_90_days_kept(storage: Storage) -> None:
    store = storage.health
    days = [f"2025-01-{d:02d}" for d in range(1, 32)] + [f"2025-03-{d:02d}" for d in (1, 31)]
    for i, day in enumerate(days):
        await store.update(N, read("YELLOW", 1000.0 + i, day), oldest_day=oldest_kept_day(day))
    kept = [s.day for s in await store.snapshots(N)]
    # 2025-03-31 keeps 90 days: from 2025-01-01
    assert oldest_kept_day("2025-03-31") == "2025-01-01"
    assert kept == days
    await store.update(N, read("RED", 5000.0, "2025-04-01"), oldest_day="2025-01-02")
    kept = [s.day for s in await store.snapshots(N)]
    assert kept[0] == "2025-01-02" and kept[-1] == "2025-04-01" and len(kept) == len(days)


async def test_an_event_is_kept_once_newest_first_and_trimmed(storage: Storage) -> None:
    store = storage.health

    def event(i: int, name: str = "FLAGGED") -> HealthEvent:
        return HealthEvent(
            id=f"ev_{i}",
            number=N,
            field="phone_number_quality_update",
            event=name,
            waba_id="1",
            at=float(i),
            value={"event": name, "n": i},
        )

    assert await store.record_event(event(1, "BRAND_NEW_NAME"))
    assert not await store.record_event(event(1, "BRAND_NEW_NAME"))
    assert await store.record_event(event(2))
    assert [e.id for e in await store.events(N)] == ["ev_2", "ev_1"]
    assert (await store.events(N))[1].value == {"event": "BRAND_NEW_NAME", "n": 1}
    for i in range(3, HISTORY_KEPT + 5):
        await store.record_event(event(i))
    kept = await store.events(N, limit=HISTORY_KEPT + 10)
    assert len(kept) == HISTORY_KEPT
    assert kept[0].id == f"ev_{HISTORY_KEPT + 4}" and kept[-1].id == "ev_5"


async def test_jobs_are_claimed_by_one_and_come_back_when_the_claim_runs_out(
    storage: Storage,
) -> None:
    store = storage.health
    await store.schedule([NewJob("refresh", N, 10.0, "x"), NewJob("refresh", "other", 50.0)])
    assert await store.claim("refresh", 5.0, 30.0) == []  # not due yet
    first = await store.claim("refresh", 10.0, 30.0)
    assert [(j.key, j.payload, j.attempts) for j in first] == [(N, "x", 0)]
    assert await store.claim("refresh", 20.0, 30.0) == []  # claimed until 40
    # the claimer died: at 40 the claim has run out, another process takes it
    second = await store.claim("refresh", 41.0, 30.0)
    assert [j.key for j in second] == [N]
    assert not await store.finish(first[0])  # the first claim is not the current one
    assert await store.finish(second[0])
    assert [j.key for j in await store.claim("refresh", 60.0, 30.0)] == ["other"]
    assert await store.pending("refresh") == 1


async def test_a_job_scheduled_again_while_claimed_runs_again(storage: Storage) -> None:
    store = storage.health
    await store.schedule([NewJob("refresh", N, 10.0)])
    (job,) = await store.claim("refresh", 10.0, 30.0)
    # a webhook asks again while the read runs: replace moves it, keep-if-present does not
    await store.schedule([NewJob("refresh", N, 12.0, replace=True)])
    await store.schedule([NewJob("refresh", N, 99.0)])
    assert not await store.finish(job)
    (again,) = await store.claim("refresh", 12.0, 30.0)
    assert await store.finish(again)
    assert await store.pending("refresh") == 0


async def test_a_failed_job_is_retried_later_with_its_attempts_counted(storage: Storage) -> None:
    store = storage.health
    await store.schedule([NewJob("alert", "c1", 1.0, "{}")])
    (job,) = await store.claim("alert", 1.0, 30.0)
    assert await store.retry(job, 5.0)
    assert not await store.retry(job, 5.0)  # the claim is no longer current
    assert await store.claim("alert", 4.0, 30.0) == []
    (again,) = await store.claim("alert", 5.0, 30.0)
    assert again.attempts == 1 and again.payload == "{}"
    assert await store.finish(again)


async def test_the_daily_lease_lets_one_owner_run_a_day_once(storage: Storage) -> None:
    store = storage.health
    assert await store.daily_done() is None
    assert await store.daily_begin(DAY, "a", 100.0, 5.0) == "ok"
    assert await store.daily_begin(DAY, "b", 101.0, 5.0) == "busy"
    assert await store.daily_renew(DAY, "a", 104.0, 5.0)
    assert await store.daily_begin(DAY, "b", 106.0, 5.0) == "busy"  # renewed until 109
    assert not await store.daily_renew(DAY, "b", 106.0, 5.0)
    # a dies: after its lease, b takes the day and finishes it
    assert await store.daily_begin(DAY, "b", 110.0, 5.0) == "ok"
    assert not await store.daily_finish(DAY, "a")
    assert await store.daily_finish(DAY, "b")
    assert await store.daily_done() == DAY
    for owner in ("a", "b", "c"):
        assert await store.daily_begin(DAY, owner, 200.0, 5.0) == "done"
    assert await store.daily_begin("2025-03-11", "c", 300.0, 5.0) == "ok"


async def test_a_second_code_request_within_the_interval_is_refused(storage: Storage) -> None:
    store = storage.health
    assert await store.claim_code_request(N, 1000.0, 60.0, "VOICE") == 0
    wait = await store.claim_code_request(N, 1015.5, 60.0, "SMS")
    assert 44 < wait <= 44.5
    record = await store.activation(N)
    assert record is not None and record.requested_at == 1000.0 and record.method == "VOICE"
    assert await store.claim_code_request(N, 1060.0, 60.0, "SMS") == 0
    # the gateway refused that one: forgotten, so a new request may go at once
    await store.cancel_code_request(N, 1060.0)
    assert await store.claim_code_request(N, 1061.0, 60.0, "VOICE") == 0


async def test_verification_registration_and_the_kept_pin(storage: Storage) -> None:
    store = storage.health
    await store.mark_activation(N, verified_at=10.0)
    record = await store.activation(N)
    assert record is not None and record.verified_at == 10.0 and record.registered_at is None
    await store.mark_activation(N, registered_at=20.0)
    record = await store.activation(N)
    assert record is not None and record.verified_at is None and record.registered_at == 20.0
    assert await store.pin(N) is None
    await store.keep_pin(N, "123456")
    assert await store.pin(N) == "123456"
    await store.keep_pin(N, None)
    assert await store.pin(N) is None


async def test_many_reads_several_records_at_once(storage: Storage) -> None:
    store = storage.health
    await store.update(N, read("RED", 1.0), oldest_day=DAY)
    found = await store.many([N, "404"])
    assert list(found) == [N] and found[N].health is HealthClass.BAD
    assert await store.many([]) == {}
    snapshot = DailySnapshot(day=DAY, health=HealthClass.BAD, quality_rating="RED", checked_at=1.0)
    assert await store.snapshots(N) == [snapshot]
