"""The Redis coalescer: commands of concurrent tasks share one pipeline, and each caller
still gets exactly its own reply, error or retry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from flow_engine.storage.redis_coalescer import Coalescer

INCR_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.error_reply('refused') end
return redis.call('INCR', KEYS[1])
"""


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    r = Redis.from_url(redis_url)
    yield r
    await r.aclose()


async def test_concurrent_calls_travel_in_one_pipeline_each_with_its_reply(client: Redis) -> None:
    batch = Coalescer(client)
    pipelines = 0
    original = client.pipeline

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal pipelines
        pipelines += 1
        return original(*args, **kwargs)

    client.pipeline = counting  # type: ignore[method-assign]
    replies = await asyncio.gather(
        *(batch.call(lambda pipe, i=i: pipe.set(f"k{i}", i)) for i in range(50)),
        *(batch.call(lambda pipe, i=i: pipe.incr(f"n{i % 5}")) for i in range(50)),
    )
    assert pipelines == 1
    assert replies[:50] == [True] * 50
    assert sorted(replies[50:]) == sorted([1 + i // 5 for i in range(50)])
    assert await client.get("k7") == b"7"


async def test_an_error_reaches_only_its_caller(client: Redis) -> None:
    batch = Coalescer(client)
    script = client.register_script(INCR_IF)
    await client.set("s", "stop")
    ok, refused = await asyncio.gather(
        batch.script(script, ["t"], ["stop"]),
        batch.script(script, ["s"], ["stop"]),
        return_exceptions=True,
    )
    assert ok == 1
    assert isinstance(refused, Exception) and "refused" in str(refused)


async def test_unknown_scripts_are_loaded_and_only_they_run_again(client: Redis) -> None:
    batch = Coalescer(client)
    script = client.register_script(INCR_IF)
    assert await batch.script(script, ["a"], ["x"]) == 1
    await client.script_flush()  # Redis restarted, as far as scripts go
    replies = await asyncio.gather(
        batch.script(script, ["a"], ["x"]),
        batch.call(lambda pipe: pipe.incr("plain")),
    )
    assert replies == [2, 1]
    assert await client.get("a") == b"2" and await client.get("plain") == b"1"  # none twice


async def test_a_caller_that_gives_up_does_not_disturb_the_others(client: Redis) -> None:
    batch = Coalescer(client)
    waiting = batch.call(lambda pipe: pipe.incr("c"))
    other = batch.call(lambda pipe: pipe.incr("d"))
    waiting.cancel()
    assert await other == 1
    await asyncio.sleep(0.05)
    assert await client.get("c") == b"1"  # sent like any command already on its way


async def test_a_lone_command_and_a_lone_unknown_script(client: Redis) -> None:
    batch = Coalescer(client)
    script = client.register_script(INCR_IF)
    assert await batch.call(lambda pipe: pipe.set("lone", "1")) is True
    await client.script_flush()
    assert await batch.script(script, ["lone"], ["x"]) == 2
    await client.set("stop", "x")
    try:
        await batch.script(script, ["stop"], ["x"])
    except Exception as exc:
        assert "refused" in str(exc)
    else:
        raise AssertionError("the script's error was lost")
