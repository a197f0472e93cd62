"""The garbage collector of a serving process (``web/gc_tuning.py``): the objects of the
start frozen, the young generation collected every ``FLOW_ENGINE_GC_THRESHOLD``
allocations; ``0`` leaves Python's defaults. Figures in docs/benchmark.md."""

from __future__ import annotations

import gc
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from flow_engine.devtools import redis_server
from flow_engine.web import gc_tuning
from tests.support.processes import PORT_TAKEN, PORT_TRIES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tune_freezes_the_start_and_spaces_the_young_collections(restored_gc: None) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    assert gc_tuning.tune(12_345) is True
    assert gc.get_threshold() == (12_345, *gc_tuning.OLDER)
    assert gc.get_freeze_count() > 1000  # this process's modules, at least


def test_zero_leaves_python_s_defaults(restored_gc: None) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    assert gc_tuning.tune(0) is False
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def serve_env(port: int, threshold: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FLOW_ENGINE_ENV": "development",
        "FLOW_ENGINE_STORE": "memory",
        "FLOW_ENGINE_REDIS_URL": "",
        "FLOW_ENGINE_HOST": "127.0.0.1",
        "FLOW_ENGINE_PORT": str(port),
        "FLOW_ENGINE_CONFIG_DIR": str(ROOT / "fixtures"),
        "FLOW_ENGINE_DATA_DIR": str(tmp_path / "data"),
        "FLOW_ENGINE_LOG_LEVEL": "debug",
        "FLOW_ENGINE_LOG_FORMAT": "json",
        "FLOW_ENGINE_GC_THRESHOLD": threshold,
    }


class PortWasTaken(Exception):
    """The process could not listen on the port it was given (taken meanwhile)."""


def first_line_with(
    lines: queue.Queue[str | None], event: str, within: float
) -> dict[str, object]:
    """The first JSON log line of ``event`` in ``lines`` (a thread reads them from the
    process and puts None at its end, so that a silent process fails the test after
    ``within`` seconds, and one that exited fails it at once). :class:`PortWasTaken`
    when the process said its port was taken."""
    deadline = time.monotonic() + within
    seen: list[str] = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if f'"{event}"' in line:
            found: dict[str, object] = json.loads(line)
            return found
    if any(PORT_TAKEN in line for line in seen):
        raise PortWasTaken("".join(seen))
    raise AssertionError(f"no {event} line in {''.join(seen)}")


def pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Every line of ``stream`` into ``lines``, then None."""
    for line in stream:
        lines.put(line)
    lines.put(None)


def serve_until(event: str, threshold: str, tmp_path: Path) -> dict[str, object]:
    """``flow-engine serve`` on a free port until it logs ``event``: that line. A port
    taken between ``free_port`` and the bind (another test's process, an outgoing
    connection) is tried again on another, as ``tests.support.processes`` does."""
    for attempt in range(PORT_TRIES):
        with subprocess.Popen(
            [sys.executable, "-m", "flow_engine", "serve"],
            cwd=ROOT,
            env=serve_env(redis_server.free_port(), threshold, tmp_path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stderr is not None
            lines: queue.Queue[str | None] = queue.Queue()
            reader = threading.Thread(target=pump, args=(proc.stderr, lines))
            reader.start()
            try:
                return first_line_with(lines, event, within=60)
            except PortWasTaken:
                if attempt == PORT_TRIES - 1:
                    raise
            finally:
                proc.terminate()
                proc.wait(timeout=30)
                reader.join(timeout=30)  # the end of its output, before the pipe is closed
    raise AssertionError("unreachable")


@pytest.mark.slow
def test_flow_engine_serve_tunes_its_collector_once_it_serves(tmp_path: Path) -> None:
    line = serve_until("gc_tuned", "12345", tmp_path)
    assert line["threshold"] == 12345
    assert isinstance(line["frozen"], int) and line["frozen"] > 1000


@pytest.mark.slow
def test_a_port_taken_before_the_bind_is_tried_again_on_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_free_port = redis_server.free_port
    handed: list[int] = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()

        def free_port() -> int:
            handed.append(taken.getsockname()[1] if not handed else real_free_port())
            return handed[-1]

        monkeypatch.setattr(redis_server, "free_port", free_port)
        line = serve_until("gc_tuned", "12345", tmp_path)
    assert line["threshold"] == 12345
    assert len(handed) == 2 and handed[1] != handed[0]


def test_a_negative_threshold_is_refused_naming_the_setting(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flow_engine", "serve"],
        cwd=ROOT,
        env=serve_env(redis_server.free_port(), "-1", tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert "FLOW_ENGINE_GC_THRESHOLD" in done.stderr, done.stderr
