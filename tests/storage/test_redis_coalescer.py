"""The Redis coalescer: commands of concurrent tasks share one pipeline, and each caller
still gets exactly its own reply, error or retry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import TimeoutError as RedisTimeoutError

from flow_engine.devtools.redis_cluster import RedisClusterServer
from flow_engine.devtools.redis_server import RedisServer
from flow_engine.storage.redis_backend import cluster_url as cluster_url_of
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


def count_pipelines(client: Redis | RedisCluster) -> list[int]:
    """A counter (its one item) of the pipelines ``client`` makes from now on."""
    made = [0]
    original = client.pipeline

    def counting(*args: Any, **kwargs: Any) -> Any:
        made[0] += 1
        return original(*args, **kwargs)

    client.pipeline = counting  # type: ignore[method-assign]
    return made


async def test_concurrent_calls_travel_in_one_pipeline_each_with_its_reply(client: Redis) -> None:
    batch = Coalescer(client)
    pipelines = count_pipelines(client)
    replies = await asyncio.gather(
        *(batch.call(lambda pipe, i=i: pipe.set(f"k{i}", i)) for i in range(50)),
        *(batch.call(lambda pipe, i=i: pipe.incr(f"n{i % 5}")) for i in range(50)),
    )
    assert pipelines == [1]
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


async def test_a_pipeline_past_its_deadline_fails_its_callers_and_the_next_one_works(
    redis_factory: Callable[..., RedisServer],
) -> None:
    """A client without socket timeouts (one timer per reply): the coalescer's deadline is
    what bounds a frozen store, and the connection it gave up on is not reused."""
    server = redis_factory()
    client = Redis.from_url(server.url, socket_timeout=None)
    batch = Coalescer(client, deadline_s=0.3)
    try:
        assert await batch.call(lambda pipe: pipe.incr("n")) == 1
        server.freeze()
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            calls = batch.call(lambda pipe: pipe.incr("n")), batch.call(lambda pipe: pipe.get("n"))
            await asyncio.wait_for(asyncio.gather(*calls), 5)
        assert time.monotonic() - started < 2.0
        server.thaw()
        # the frozen server ran the INCR once it woke up: the reply read now is the GET's
        # own, on a fresh connection, not the stale INCR reply of the dropped one
        assert await batch.call(lambda pipe: pipe.get("n")) == b"2"
        assert await batch.call(lambda pipe: pipe.incr("n")) == 3
    finally:
        server.thaw()
        await client.aclose()


async def test_pipelines_in_flight_are_bounded_and_the_rest_travel_together(
    client: Redis,
) -> None:
    batch = Coalescer(client, max_in_flight=1)
    pipes: list[Any] = []
    in_flight = most = 0
    original = client.pipeline
    pool = client.connection_pool
    get_connection, release = pool.get_connection, pool.release

    def recorded(*args: Any, **kwargs: Any) -> Any:
        pipes.append(original(*args, **kwargs))
        return pipes[-1]

    async def taken(*args: Any, **kwargs: Any) -> Any:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        return await get_connection(*args, **kwargs)

    async def given_back(conn: Any) -> None:
        nonlocal in_flight
        in_flight -= 1
        await release(conn)

    client.pipeline = recorded  # type: ignore[method-assign]
    pool.get_connection = taken  # type: ignore[method-assign]
    pool.release = given_back  # type: ignore[method-assign]

    async def one(i: int) -> Any:
        await asyncio.sleep(0)  # issued over several turns of the loop
        for _ in range(i % 3):
            await asyncio.sleep(0)
        return await batch.call(lambda pipe: pipe.incr("bounded"))

    replies = await asyncio.gather(*(one(i) for i in range(30)))
    assert sorted(replies) == list(range(1, 31))  # each its own reply, none lost or twice
    sizes = [len(p.command_stack) for p in pipes]
    assert sum(sizes) == 30
    # one pipeline at a time: what was issued during one went out together in the next
    assert most == 1
    assert len(sizes) < 30 and max(sizes) > 1
    assert await client.get("bounded") == b"30"


async def test_connections_the_server_dropped_are_replaced_and_nothing_runs_twice(
    client: Redis,
) -> None:
    batch = Coalescer(client)
    assert await asyncio.gather(*(batch.call(lambda pipe: pipe.incr("once")) for _ in range(3)))
    async with Redis.from_url(
        f"redis://{client.connection_pool.connection_kwargs['host']}:"
        f"{client.connection_pool.connection_kwargs['port']}"
    ) as other:
        mine = await other.client_id()
        for entry in await other.client_list():
            if int(entry["id"]) != mine:
                await other.client_kill_filter(_id=entry["id"])
    replies = await asyncio.gather(*(batch.call(lambda pipe: pipe.incr("once")) for _ in range(3)))
    assert sorted(replies) == [4, 5, 6]
    assert await batch.call(lambda pipe: pipe.get("once")) == b"6"


# ----------------------------------------------------------------------- on a cluster
@pytest.fixture
async def cluster_client(cluster_url: str) -> AsyncIterator[RedisCluster]:
    c = RedisCluster.from_url(cluster_url_of(cluster_url))
    await c.initialize()
    yield c
    await c.aclose()


def _keys_on_every_node(client: RedisCluster, per_node: int) -> list[str]:
    """Keys spread over the masters, ``per_node`` of each."""
    found: dict[str, list[str]] = {}
    i = 0
    while len(found) < 3 or any(len(v) < per_node for v in found.values()):
        key = f"key{i}"
        node = client.get_node_from_key(key)
        assert node is not None
        if len(found.setdefault(node.name, [])) < per_node:
            found[node.name].append(key)
        i += 1
    return [k for keys in found.values() for k in keys]


@pytest.mark.slow
async def test_on_a_cluster_each_node_takes_its_share_without_redis_pys_pipeline(
    cluster_client: RedisCluster,
) -> None:
    batch = Coalescer(cluster_client)
    script = cluster_client.register_script(INCR_IF)
    keys = _keys_on_every_node(cluster_client, 10)
    await cluster_client.set(keys[0], "stop")
    assert await batch.script(script, [keys[1]], ["stop"]) == 1  # loads it on the nodes
    pipelines = count_pipelines(cluster_client)
    replies = await asyncio.gather(
        *(batch.script(script, [k], ["stop"]) for k in keys),
        *(batch.call(lambda pipe, k=k: pipe.get(k)) for k in keys),
        return_exceptions=True,
    )
    n = len(keys)
    assert isinstance(replies[0], Exception) and "refused" in str(replies[0])
    assert replies[1] == 2 and replies[2:n] == [1] * (n - 2)
    assert replies[n] == b"stop" and replies[n + 1] == b"2"
    assert replies[n + 2 :] == [b"1"] * (n - 2)
    assert pipelines == [0]  # every command went straight to its node


@pytest.mark.slow
async def test_on_a_cluster_a_moved_slot_is_followed_and_the_command_runs_once(
    cluster_client: RedisCluster, redis_cluster: RedisClusterServer
) -> None:
    batch = Coalescer(cluster_client)
    script = cluster_client.register_script(INCR_IF)
    key = "moving"
    slot = cluster_client.keyslot(key)
    source = cluster_client.get_node_from_key(key)
    assert source is not None
    ids = {port: _command(port, "CLUSTER", "MYID").decode() for port in redis_cluster.ports}
    target = next(p for p in redis_cluster.ports if p != source.port)

    def move_to(port: int) -> None:  # an empty slot changes hands on every node
        for p in sorted(redis_cluster.ports, key=lambda p: p != port):
            _command(p, "CLUSTER", "SETSLOT", str(slot), "NODE", ids[port])
        _owned_everywhere(redis_cluster.ports, slot, port)

    move_to(target)
    try:
        # this client's slot table still names the source: the source answers MOVED
        assert cluster_client.get_node_from_key(key) is source
        assert await batch.script(script, [key], ["stop"]) == 1
        assert await batch.call(lambda pipe: pipe.get(key)) == b"1"
        assert _command(target, "GET", key) == b"1"  # on its new node, and once
        moved = cluster_client.get_node_from_key(key)
        assert moved is not None and moved.port == target  # redis-py learnt the move
    finally:
        _command(target, "DEL", key)
        move_to(source.port)


@pytest.mark.slow
async def test_on_a_cluster_connections_the_nodes_dropped_are_replaced_and_nothing_runs_twice(
    cluster_client: RedisCluster, redis_cluster: RedisClusterServer
) -> None:
    """Every node closed the coalescer's connections (a restart, a failover, a killed
    client): the commands written on them before any reply go through redis-py again,
    and each runs once."""
    batch = Coalescer(cluster_client)
    script = cluster_client.register_script(INCR_IF)
    keys = _keys_on_every_node(cluster_client, 3)
    assert await asyncio.gather(*(batch.script(script, [k], ["stop"]) for k in keys)) == [1] * 9
    for port in redis_cluster.ports:
        with SyncRedis(port=port) as other:
            mine = other.client_id()
            for entry in other.client_list():
                if int(entry["id"]) != mine:
                    other.client_kill_filter(_id=entry["id"])
    replies = await asyncio.gather(*(batch.script(script, [k], ["stop"]) for k in keys))
    assert replies == [2] * 9
    assert await asyncio.gather(*(batch.call(lambda p, k=k: p.get(k)) for k in keys)) == [b"2"] * 9


@pytest.mark.slow
async def test_on_a_cluster_a_pipeline_past_its_deadline_fails_its_callers_and_the_next_works(
    cluster_url: str,
) -> None:
    """As on one server (above): the coalescer's client has no socket timeouts, its
    deadline bounds a node that stopped answering, and the connection it gave up on is
    not reused."""
    client = RedisCluster.from_url(cluster_url_of(cluster_url), socket_timeout=None)
    await client.initialize()
    batch = Coalescer(client, deadline_s=0.3)
    script = client.register_script(INCR_IF)
    key = "paused"
    node = client.get_node_from_key(key)
    assert node is not None
    try:
        assert await batch.script(script, [key], ["x"]) == 1
        _command(node.port, "CLIENT", "PAUSE", "1000", "ALL")
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            calls = batch.script(script, [key], ["x"]), batch.call(lambda pipe: pipe.get(key))
            await asyncio.wait_for(asyncio.gather(*calls), 5)
        assert time.monotonic() - started < 0.9
        await asyncio.sleep(max(0.0, started + 1.2 - time.monotonic()))  # the pause is over
        # a paused node drops what a client it lost had sent (a frozen one runs it): either
        # way, the replies read now are the commands' own, not the dropped connection's
        now = await batch.call(lambda pipe: pipe.get(key))
        assert now in (b"1", b"2")
        assert await batch.script(script, [key], ["x"]) == int(now) + 1
    finally:
        _command(node.port, "CLIENT", "UNPAUSE")
        await client.aclose()


@pytest.mark.slow
async def test_on_a_cluster_commands_of_no_key_here_go_through_redis_py(
    cluster_client: RedisCluster,
) -> None:
    batch = Coalescer(cluster_client)
    replies = await asyncio.gather(
        batch.call(lambda pipe: pipe.set("plain", "1")),
        batch.call(lambda pipe: pipe.incr("counter")),
        batch.call(lambda pipe: pipe.get("nothing")),
        batch.call(lambda pipe: pipe.exists("plain", "counter")),
    )
    assert replies[:3] == [True, 1, None]
    assert replies[3] in (1, 2)  # the two keys' EXISTS, however redis-py splits it
    assert await cluster_client.get("plain") == b"1"


@pytest.mark.slow
async def test_on_a_cluster_a_queue_read_asks_no_node_for_its_keys(
    cluster_url: str, redis_cluster: RedisClusterServer
) -> None:
    """redis-py finds an XREAD's keys with ``COMMAND GETKEYS`` (a round trip more per
    read) unless the read names its node."""
    from flow_engine.domain.inbound import InboundMessage
    from flow_engine.storage.redis_backend import RedisBackend
    from flow_engine.storage.redis_queue import RedisQueue

    backend = RedisBackend.from_url(cluster_url, partitions=4)
    try:
        await backend.connect()
        queue = RedisQueue(backend)
        messages = [
            InboundMessage.model_validate(
                {
                    "number": "100000000000001",
                    "contact": f"54911000000{p}",
                    "message_id": f"wamid.{p}",
                    "type": "text",
                    "text": "hola",
                    "timestamp": 1,
                }
            )
            for p in range(4)
        ]
        for p, m in enumerate(messages):
            assert await queue.enqueue(p, m)
        before = redis_cluster.commandstats()
        for p in range(4):
            blocking = await queue.read(p, "0-0", 10, 100)
            at_once = await queue.read(p, "0-0", 10, 0)
            assert [e.message.message_id for e in blocking] == [f"wamid.{p}"]
            assert [e.message.message_id for e in at_once] == [f"wamid.{p}"]
        assert await queue.read(0, blocking[-1].id, 10, 50) == []  # blocked, then none
        after = redis_cluster.commandstats()
        assert after.get("xread", 0) - before.get("xread", 0) == 9
        assert after.get("command|getkeys", 0) == before.get("command|getkeys", 0)
    finally:
        await backend.close()


def _owner_seen_by(port: int, slot: int) -> int | None:
    """The port of the node that ``port``'s node says serves ``slot``."""
    for start, end, primary, *_replicas in _command(port, "CLUSTER", "SLOTS"):
        if start <= slot <= end:
            return int(primary[1])
    return None


def _owned_everywhere(ports: list[int], slot: int, owner: int, within_s: float = 10.0) -> None:
    """Wait until every node names ``owner`` for ``slot``: on a loaded machine a node may
    still gossip the old owner for a moment after its ``SETSLOT``, and a client sent back
    and forth between the two runs out of redirections."""
    deadline = time.monotonic() + within_s
    while any(_owner_seen_by(p, slot) != owner for p in ports):
        assert time.monotonic() < deadline, f"slot {slot} did not settle on {owner}"
        time.sleep(0.05)


def _command(port: int, *args: str) -> Any:
    with SyncRedis(port=port) as r:
        return r.execute_command(*args)
