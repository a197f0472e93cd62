"""Fixtures of the web tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import EngineProcess


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineProcess]:
    """A real engine process on a memory store, served as ``flow-engine serve`` serves
    it (one per test module that asks for it)."""
    proc = EngineProcess(
        {
            "FLOW_ENGINE_ADMIN_TOKEN": "t" * 32,
            "FLOW_ENGINE_REDIS_URL": "",
            "FLOW_ENGINE_STORE": "memory",
        },
        "tests.support.base_engine_proc",
    )
    try:
        yield proc
    finally:
        proc.stop()
