"""Bounded memory: an idle conversation record expires after its retention (every commit
restarts it), and the small known-contact mark outlives it when the contact retention is
longer. On memory, Redis and a Redis Cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from flow_engine.domain.conversation import Conversation
from flow_engine.storage.base import Storage
from flow_engine.storage.conversations import Retention
from flow_engine.storage.keys import KeyBuilder
from flow_engine.storage.memory import memory_storage
from flow_engine.storage.redis import redis_storage
from tests.conftest import PARTITIONS, STORES, store_url

NUMBER, CONTACT = "100", "5511999990001"
StorageWith = Callable[[Retention], Storage]


@pytest.fixture(params=STORES)
async def storage_with(request: pytest.FixtureRequest) -> AsyncIterator[StorageWith]:
    """Storages of one backend with the retention a test asks for."""
    made: list[Storage] = []
    url = store_url(request, request.param)

    def make(retention: Retention) -> Storage:
        if request.param == "memory":
            st = memory_storage(retention=retention)
        else:
            st = redis_storage(url, partitions=PARTITIONS, retention=retention)
        made.append(st)
        return st

    yield make
    for st in made:
        await st.close()


async def save(st: Storage, **fields: object) -> Conversation:
    stored = await st.conversations.load(0, NUMBER, CONTACT)
    conversation = (stored or Conversation(number=NUMBER, contact=CONTACT)).model_copy(
        update=fields
    )
    await st.conversations.commit(0, conversation, None, [])
    saved = await st.conversations.load(0, NUMBER, CONTACT)
    assert saved is not None
    return saved


async def test_an_idle_record_expires_and_each_commit_restarts_its_time(
    storage_with: StorageWith,
) -> None:
    st = storage_with(Retention(conversation_s=0.6))
    await st.connect()
    await save(st, state="greeted", first_seen=100.0)
    await asyncio.sleep(0.4)
    assert (await save(st, state="again")).version == 2  # still there, and restarted
    await asyncio.sleep(0.4)  # 0.8 s after the first commit, 0.4 s after the second
    kept = await st.conversations.load(0, NUMBER, CONTACT)
    assert kept is not None and kept.state == "again"
    await asyncio.sleep(0.5)  # idle for longer than the retention
    assert await st.conversations.load(0, NUMBER, CONTACT) is None  # a first contact again


async def test_a_known_contact_outlives_the_record_as_a_returning_contact(
    storage_with: StorageWith,
) -> None:
    st = storage_with(Retention(conversation_s=0.3, contact_s=30.0))
    await st.connect()
    await save(st, state="greeted", first_seen=100.0, data={"visits": 3})
    await asyncio.sleep(0.5)
    again = await st.conversations.load(0, NUMBER, CONTACT)
    assert again == Conversation.known_again(NUMBER, CONTACT, 100.0)
    assert again.version == 0 and again.returning and again.data == {}
    # the new record saves like any new one, and stays returning
    saved = await save(st, state="greeted")
    assert saved.version == 1 and saved.returning and saved.first_seen == 100.0


async def test_without_a_longer_contact_retention_nothing_is_kept_after_the_record(
    storage_with: StorageWith,
) -> None:
    st = storage_with(Retention(conversation_s=0.3, contact_s=0.3))
    await st.connect()
    await save(st, first_seen=100.0)
    await asyncio.sleep(0.5)
    assert await st.conversations.load(0, NUMBER, CONTACT) is None


@pytest.mark.parametrize("store", ["redis", pytest.param("cluster", marks=pytest.mark.slow)])
async def test_redis_keys_carry_their_time_to_live(
    request: pytest.FixtureRequest, store: str
) -> None:
    keys = KeyBuilder()
    day = 24 * 3600
    st = redis_storage(
        store_url(request, store),
        partitions=PARTITIONS,
        retention=Retention(conversation_s=90 * day, contact_s=730 * day),
    )
    await st.connect()
    try:
        await save(st, first_seen=100.0)
        r = st.backend.r
        record_ttl = await r.pttl(keys.conversation(0, NUMBER, CONTACT))
        known_ttl = await r.pttl(keys.known_contact(0, NUMBER, CONTACT))
        assert 89 * day * 1000 < record_ttl <= 90 * day * 1000
        assert 729 * day * 1000 < known_ttl <= 730 * day * 1000
        assert float(await r.get(keys.known_contact(0, NUMBER, CONTACT))) == 100.0
        forever = redis_storage(store_url(request, store), partitions=PARTITIONS)
        await forever.connect()
        await save(forever)  # retention 0: the record is kept for ever, and unmarked
        assert await r.pttl(keys.conversation(0, NUMBER, CONTACT)) == -1
        await forever.close()
    finally:
        await st.close()
