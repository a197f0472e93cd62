"""The session store's contract (storage/sessions.py), on memory and on Redis."""

from __future__ import annotations

import asyncio

from flow_engine.storage.base import Storage

TTL_MS = 400


async def test_a_session_round_trips_and_is_deleted(storage: Storage) -> None:
    s = storage.sessions
    assert await s.get("k1") is None
    await s.put("k1", '{"member_id": "m_1"}', 60_000)
    assert await s.get("k1") == '{"member_id": "m_1"}'
    await s.put("k1", '{"member_id": "m_2"}', 60_000)  # replaced
    assert await s.get("k1", 60_000) == '{"member_id": "m_2"}'
    await s.delete("k1")
    assert await s.get("k1") is None
    await s.delete("k1")  # gone already: nothing happens


async def test_a_session_expires_when_idle_and_lives_while_used(storage: Storage) -> None:
    s = storage.sessions
    await s.put("idle", "a", TTL_MS)
    await s.put("used", "b", TTL_MS)
    for _ in range(4):  # 4 × 150 ms > the TTL, but each read moves the expiry on
        await asyncio.sleep(0.15)
        assert await s.get("used", TTL_MS) == "b"
    assert await s.get("idle") is None
    await asyncio.sleep(TTL_MS / 1000 + 0.1)
    assert await s.get("used") is None


async def test_a_read_without_ttl_does_not_extend(storage: Storage) -> None:
    s = storage.sessions
    await s.put("k", "a", TTL_MS)
    await asyncio.sleep(0.25)
    assert await s.get("k") == "a"
    await asyncio.sleep(0.25)
    assert await s.get("k") is None


async def test_failures_count_in_a_window_that_starts_at_the_first(storage: Storage) -> None:
    s = storage.sessions
    assert await s.failures("email:x") == 0
    assert await s.count_failure("email:x", TTL_MS) == 1
    await asyncio.sleep(0.2)
    assert await s.count_failure("email:x", TTL_MS) == 2  # the window is not moved on
    assert await s.failures("email:x") == 2
    assert await s.failures("email:y") == 0
    await asyncio.sleep(0.3)
    assert await s.failures("email:x") == 0
    assert await s.count_failure("email:x", TTL_MS) == 1  # a new window


async def test_concurrent_failures_are_all_counted(storage: Storage) -> None:
    s = storage.sessions
    counts = await asyncio.gather(*(s.count_failure("addr:1", 60_000) for _ in range(20)))
    assert sorted(counts) == list(range(1, 21))
    await s.clear_failures("addr:1")
    assert await s.failures("addr:1") == 0


async def test_sessions_and_counters_do_not_share_keys(storage: Storage) -> None:
    s = storage.sessions
    await s.put("same", "doc", 60_000)
    assert await s.count_failure("same", 60_000) == 1
    assert await s.get("same") == "doc"
