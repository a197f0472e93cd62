"""Bounded memory: after messages are handled with the default settings, every key that
belongs to one message or one conversation expires on its own (dedupe and sent marks,
claims, conversation records, known-contact marks); only per-partition and per-number
structures, bounded in count, are kept without a time to live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from flow_engine.web.app import create_app
from flow_engine.web.state import STORAGE
from tests.conftest import SHARED_STORES, ServerFactory, engine_settings, serve_engine, store_url
from tests.support.harness import Harness

BENCH_CONFIG = Path(__file__).resolve().parents[2] / "bench" / "config"
DAY_MS = 24 * 3600 * 1000


@pytest.fixture(params=SHARED_STORES)
async def engine(
    request: pytest.FixtureRequest, aiohttp_server: ServerFactory, gateway_server: TestServer
) -> AsyncIterator[Harness]:
    """The base flow, one reply a message (the bench's configuration), default settings."""
    gw_url = str(gateway_server.make_url("")).rstrip("/")
    settings = engine_settings(gw_url, BENCH_CONFIG, store_url(request, request.param))
    h = await serve_engine(aiohttp_server, create_app(settings), gw_url)
    yield h
    await h.close()


async def ttls(r: Any) -> dict[str, int]:
    keys = [k.decode() async for k in r.scan_iter(match="fe:*", count=1000)]
    found = await asyncio.gather(*(r.pttl(k) for k in keys))
    return dict(zip(keys, (int(t) for t in found), strict=True))


async def test_every_key_of_a_message_or_a_conversation_expires(engine: Harness) -> None:
    h: Harness = engine
    contacts = [f"54911000{i:05d}" for i in range(5)]
    message_ids = []
    for step in range(2):
        message_ids += await asyncio.gather(*(h.say(c, f"m{step}") for c in contacts))
    await h.wait_sent(10, within=20)
    await h.settle()
    app = h.app  # type: ignore[attr-defined]
    assert await app[STORAGE].queue.depth() == 0 and await app[STORAGE].outbox.depth() == 0
    keys = await ttls(app[STORAGE].backend.r)
    own = {k: t for k, t in keys.items() if any(x in k for x in (*contacts, *message_ids))}
    kinds = {k.split(":")[2] for k in own}
    assert {"conv", "known", "dedupe", "sent"} <= kinds, sorted(own)
    forever = sorted(k for k, t in own.items() if t < 0)
    assert forever == [], "kept for ever: " + ", ".join(forever)
    for key, ttl in own.items():
        kind = key.split(":")[2]
        if kind == "conv":
            assert 89 * DAY_MS < ttl <= 90 * DAY_MS, key  # FLOW_ENGINE_CONVERSATION_RETENTION_DAYS
        elif kind == "known":
            assert 729 * DAY_MS < ttl <= 730 * DAY_MS, key  # FLOW_ENGINE_CONTACT_RETENTION_DAYS
        else:
            assert ttl <= 7 * DAY_MS, key  # FLOW_ENGINE_DEDUPE_TTL_S
