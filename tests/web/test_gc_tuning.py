"""The garbage collector of a serving process (``web/gc_tuning.py``): the objects of the
start frozen, the young generation collected every ``FLOW_ENGINE_GC_THRESHOLD``
allocations; ``0`` leaves Python's defaults. Figures in docs/benchmark.md."""

from __future__ import annotations

import gc
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flow_engine.devtools.redis_server import free_port
from flow_engine.web import gc_tuning

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


def first_line_with(lines: queue.Queue[str], event: str, within: float) -> dict[str, object]:
    """The first JSON log line of ``event`` in ``lines`` (a thread reads them from the
    process, so that a silent process fails the test after ``within`` seconds)."""
    deadline = time.monotonic() + within
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        seen.append(line)
        if f'"{event}"' in line:
            found: dict[str, object] = json.loads(line)
            return found
    raise AssertionError(f"no {event} line in {''.join(seen)}")


@pytest.mark.slow
def test_flow_engine_serve_tunes_its_collector_once_it_serves(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "flow_engine", "serve"],
        cwd=ROOT,
        env=serve_env(free_port(), "12345", tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        lines: queue.Queue[str] = queue.Queue()
        stream = proc.stderr
        reader = threading.Thread(target=lambda: [lines.put(line) for line in stream])
        reader.start()
        try:
            line = first_line_with(lines, "gc_tuned", within=60)
            assert line["threshold"] == 12345
            assert isinstance(line["frozen"], int) and line["frozen"] > 1000
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            reader.join(timeout=30)  # the end of its output, before the pipe is closed


def test_a_negative_threshold_is_refused_naming_the_setting(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flow_engine", "serve"],
        cwd=ROOT,
        env=serve_env(free_port(), "-1", tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert "FLOW_ENGINE_GC_THRESHOLD" in done.stderr, done.stderr
