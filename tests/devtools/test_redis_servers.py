"""The suite's throwaway redis-servers answer as themselves. A free port is only free until
someone binds it: when another process (another test worker, another suite on the same
machine) takes it first, the new server exits with "address in use" and a PING on that
port is answered by the other server. A test must then not go on with the other server's
data: the server starts again on another port, or says why it cannot."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flow_engine.devtools import redis_cluster, redis_server
from flow_engine.devtools.redis_cluster import RedisClusterServer
from flow_engine.devtools.redis_server import (
    RedisServer,
    answers_as,
    inline_command,
    server_pid,
)
from flow_engine.storage.embedded import find_redis_server


@pytest.fixture
def foreign() -> Iterator[RedisServer]:
    """Another server, holding a key of its own."""
    other = RedisServer()
    assert inline_command(other.port, b"SET foreign 1").startswith(b"+OK")
    yield other
    other.stop()


def handing_out_first(port: int) -> Iterator[int]:
    """``free_port`` as the race plays it: first a port another process has just taken."""
    yield port
    while True:
        yield real_free_port()


real_free_port = redis_server.free_port


def up_as(port: int, proc: subprocess.Popen[bytes]) -> bool:
    try:
        return answers_as(port, proc)
    except OSError:  # not listening yet
        return False


def test_a_server_whose_port_was_taken_starts_on_another_port(
    foreign: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = handing_out_first(foreign.port)
    monkeypatch.setattr(redis_server, "free_port", lambda: next(ports))
    mine = RedisServer()
    try:
        assert mine.port != foreign.port
        assert server_pid(mine.port) == mine.pid
        assert inline_command(mine.port, b"EXISTS foreign").startswith(b":0")
    finally:
        mine.stop()
    assert inline_command(foreign.port, b"EXISTS foreign").startswith(b":1")  # untouched


def test_a_restart_on_a_port_taken_meanwhile_fails_and_says_why(tmp_path: Path) -> None:
    mine = RedisServer()
    mine.kill()
    binary = find_redis_server() or "/usr/bin/redis-server"
    argv = [binary, "--port", str(mine.port), "--bind", "127.0.0.1", "--save", ""]
    other = subprocess.Popen([*argv, "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not up_as(mine.port, other):
            assert time.monotonic() < deadline and other.poll() is None
            time.sleep(0.05)
        with pytest.raises(RuntimeError, match=f"port {mine.port}.*taken"):
            mine.start()
        assert server_pid(mine.port) == other.pid  # the other server is left alone
    finally:
        other.kill()
        other.wait(5)
        mine.stop()


@pytest.mark.slow
def test_a_cluster_node_whose_port_was_taken_starts_on_another_port(
    foreign: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = handing_out_first(foreign.port)
    monkeypatch.setattr(redis_cluster, "free_port", lambda: next(ports))
    cluster = RedisClusterServer()
    try:
        assert foreign.port not in cluster.ports
        assert [server_pid(p) for p in cluster.ports] == cluster.pids
        for port in cluster.ports:
            assert b"cluster_state:ok" in inline_command(port, b"CLUSTER INFO")
    finally:
        cluster.stop()
    assert b"cluster_enabled:0" in inline_command(foreign.port, b"INFO cluster")
