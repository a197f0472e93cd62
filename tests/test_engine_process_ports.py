"""The suite's engine processes survive the race of ``free_port``: a port taken between
the moment it was handed out and the engine's bind (by another test's process, or an
outgoing connection) makes the engine exit with a clear line, and the suite starts it
again on another port instead of failing the test that needed it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import processes
from tests.support.processes import PORT_TRIES, EngineProcess, PortTaken

MEMORY_ENGINE = {
    "FLOW_ENGINE_ADMIN_TOKEN": "t" * 32,
    "FLOW_ENGINE_REDIS_URL": "",
    "FLOW_ENGINE_STORE": "memory",
}
real_free_port = processes.free_port


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_an_engine_whose_port_was_taken_starts_on_another(
    taken: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[int] = []

    def free_port() -> int:
        port = taken if not handed else real_free_port()
        handed.append(port)
        return port

    monkeypatch.setattr(processes, "free_port", free_port)
    engine = EngineProcess(MEMORY_ENGINE, "tests.support.base_engine_proc")
    try:
        assert handed[0] == taken and len(handed) == 2
        assert engine.port == handed[1] != taken
        # the first attempt said why it gave up
        first_log = Path(engine.log.name).with_name(f"fe-engine-{taken}.log")
        assert processes.PORT_TAKEN in first_log.read_text(errors="replace")
    finally:
        engine.stop()


def test_a_port_taken_every_time_fails_and_says_so(
    taken: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processes, "free_port", lambda: taken)
    with pytest.raises(PortTaken, match=f"port {taken} was taken"):
        EngineProcess(MEMORY_ENGINE, "tests.support.base_engine_proc")


def test_an_engine_that_fails_otherwise_is_not_started_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed: list[int] = []

    def free_port() -> int:
        handed.append(real_free_port())
        return handed[-1]

    monkeypatch.setattr(processes, "free_port", free_port)
    with pytest.raises(RuntimeError, match="FLOW_ENGINE_GC_THRESHOLD") as failure:
        EngineProcess(
            {**MEMORY_ENGINE, "FLOW_ENGINE_GC_THRESHOLD": "-1"},
            "flow_engine",
            ("serve",),
        )
    assert not isinstance(failure.value, PortTaken)
    assert len(handed) == 1 < PORT_TRIES
