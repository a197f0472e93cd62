"""The embedded store's redis-server: durable, owned by one engine, cleaned up after one
that died."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from flow_engine.errors import ConfigurationError
from flow_engine.storage.embedded import PID_FILE, SOCKET_FILE, EmbeddedRedis, _alive
from tests.support.processes import ROOT


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(data_dir) as s:
        yield s


@pytest.fixture
def client(server: EmbeddedRedis) -> Iterator[Redis]:
    with Redis.from_url(server.url) as r:
        yield r


def get(url: str, key: str) -> bytes | None:
    with Redis.from_url(url) as r:
        value: bytes | None = r.get(key)
        return value


def test_it_listens_on_a_unix_socket_only_with_append_only_persistence(
    server: EmbeddedRedis, client: Redis, data_dir: Path
) -> None:
    assert server.url == f"unix://{data_dir}/{SOCKET_FILE}"
    config = client.config_get("*")
    assert config["port"] == "0"
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["dir"] == str(data_dir)
    assert config["unixsocketperm"] == "700"


def test_data_survives_a_stop_and_a_start(data_dir: Path) -> None:
    with EmbeddedRedis(data_dir) as first:
        with Redis.from_url(first.url) as r:
            r.set("fe:test", "kept")
        pid = first.pid
    assert pid is not None and not _alive(pid)
    assert not (data_dir / SOCKET_FILE).exists() and not (data_dir / PID_FILE).exists()
    with EmbeddedRedis(data_dir) as second:
        assert get(second.url, "fe:test") == b"kept"


def test_a_second_owner_of_the_data_dir_is_refused(
    server: EmbeddedRedis, client: Redis, data_dir: Path
) -> None:
    with pytest.raises(ConfigurationError) as err:
        EmbeddedRedis(data_dir).start()
    assert str(data_dir) in err.value.message and "in use" in err.value.message
    assert f"pid {os.getpid()}" in err.value.message
    assert "FLOW_ENGINE_DATA_DIR" in err.value.message
    assert client.ping()  # the owner's server was not touched


def own_and_die_script(data_dir: Path) -> str:
    return textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from redis import Redis
        from flow_engine.storage.embedded import EmbeddedRedis

        server = EmbeddedRedis(Path({str(data_dir)!r}))
        server.start()
        with Redis.from_url(server.url) as r:
            r.set("fe:test", "written before kill -9")
        print("PID", server.pid, flush=True)
        time.sleep(600)
        """
    )


def kill_server_of(data_dir: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int((data_dir / PID_FILE).read_text()), signal.SIGKILL)


def test_a_server_left_by_an_owner_killed_with_sigkill_is_replaced(
    data_dir: Path,
) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", own_and_die_script(data_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    line = ""
    while not line.startswith("PID "):
        line = owner.stdout.readline()
        if not line:
            kill_server_of(data_dir)
            pytest.fail("the owner exited before telling its server's pid")
    leftover = int(line.split()[1])
    try:
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        assert _alive(leftover)  # the owner died; its server did not
        with EmbeddedRedis(data_dir) as server:
            assert not _alive(leftover)
            assert server.pid != leftover
            assert get(server.url, "fe:test") == b"written before kill -9"
    finally:
        owner.kill()
        owner.wait(10)
        owner.stdout.close()
        if _alive(leftover):
            os.kill(leftover, signal.SIGKILL)


def test_stale_files_are_cleared_and_an_unrelated_pid_is_left_alone(
    data_dir: Path,
) -> None:
    data_dir.mkdir()
    (data_dir / SOCKET_FILE).write_text("")
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (data_dir / PID_FILE).write_text(f"{bystander.pid}\n")
        with EmbeddedRedis(data_dir) as server:
            assert get(server.url, "fe:none") is None
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_without_redis_server_on_path_one_line_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError) as err:
        EmbeddedRedis(data_dir)
    message = err.value.message
    assert "redis-server" in message and "install" in message
    assert "FLOW_ENGINE_REDIS_URL" in message and "FLOW_ENGINE_STORE=memory" in message
    assert "\n" not in message
    assert not data_dir.exists()


def test_a_data_dir_too_long_for_a_socket_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as err:
        EmbeddedRedis(tmp_path / ("d" * 120))
    assert "FLOW_ENGINE_DATA_DIR" in err.value.message
