"""Issue 9, item 8: a busy port is one line naming the address and the setting, exit 2 —
``flow-engine serve`` and ``flow-engine fake-gateway`` as real processes, on a port that
a real socket holds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flow_engine.errors import ConfigurationError
from flow_engine.web.listen import bound_port, listen

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port() -> Iterator[int]:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    yield holder.getsockname()[1]
    holder.close()


def run_cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flow_engine", *argv],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def test_serve_on_a_taken_port_says_so_in_one_line(taken_port: int, tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = run_cli(  # what make run does: development, the embedded store
        "serve",
        env={
            "FLOW_ENGINE_ENV": "development",
            "FLOW_ENGINE_HOST": "127.0.0.1",
            "FLOW_ENGINE_PORT": str(taken_port),
            "FLOW_ENGINE_CONFIG_DIR": str(ROOT / "fixtures"),
            "FLOW_ENGINE_REDIS_URL": "",
            "FLOW_ENGINE_DATA_DIR": str(data),
        },
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    (line,) = lines
    assert f"127.0.0.1:{taken_port}" in line and "already in use" in line
    assert "FLOW_ENGINE_PORT" in line and "FLOW_ENGINE_HOST" in line
    assert done.stdout == ""
    assert not data.exists()  # refused before anything started (no redis-server, no files)


def test_fake_gateway_on_a_taken_port_says_so_in_one_line(taken_port: int) -> None:
    done = run_cli("fake-gateway", "--host", "127.0.0.1", "--port", str(taken_port), env={})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"127.0.0.1:{taken_port}" in lines[0] and "already in use" in lines[0]
    assert "--port" in lines[0] and "--host" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr


def test_an_address_not_of_this_machine_is_one_line_too() -> None:
    with pytest.raises(ConfigurationError) as caught:
        listen("192.0.2.1", 0, change="set FLOW_ENGINE_HOST")  # TEST-NET-1, never local
    assert caught.value.message.startswith("cannot listen on 192.0.2.1:0: ")
    assert caught.value.message.endswith("set FLOW_ENGINE_HOST")


def test_every_address_of_a_host_listens_on_one_port() -> None:
    sockets = listen("localhost", 0, change="-")
    try:
        port = bound_port(sockets)
        assert port > 0
        assert {s.getsockname()[1] for s in sockets} == {port}
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    finally:
        for s in sockets:
            s.close()
