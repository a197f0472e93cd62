"""Sessions and failure counters in this process."""

from __future__ import annotations

import time
from collections.abc import Callable

from flow_engine.storage.sessions import SessionStore


class MemorySessions(SessionStore):
    """Entries expire on the monotonic clock (``clock`` in seconds, for tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.sessions: dict[str, tuple[str, float]] = {}
        self.counters: dict[str, tuple[int, float]] = {}

    def _live(self, expiry: float) -> bool:
        return expiry > self.clock()

    def _sweep(self) -> None:
        now = self.clock()
        for key in [k for k, (_, exp) in self.sessions.items() if exp <= now]:
            del self.sessions[key]
        for key in [k for k, (_, exp) in self.counters.items() if exp <= now]:
            del self.counters[key]

    async def put(self, key: str, document: str, ttl_ms: int) -> None:
        self._sweep()
        self.sessions[key] = (document, self.clock() + ttl_ms / 1000)

    async def get(self, key: str, ttl_ms: int | None = None) -> str | None:
        found = self.sessions.get(key)
        if found is None or not self._live(found[1]):
            self.sessions.pop(key, None)
            return None
        if ttl_ms is not None:
            self.sessions[key] = (found[0], self.clock() + ttl_ms / 1000)
        return found[0]

    async def delete(self, key: str) -> None:
        self.sessions.pop(key, None)

    async def count_failure(self, key: str, window_ms: int) -> int:
        found = self.counters.get(key)
        if found is None or not self._live(found[1]):
            self._sweep()
            found = (0, self.clock() + window_ms / 1000)
        count = found[0] + 1
        self.counters[key] = (count, found[1])
        return count

    async def failures(self, key: str) -> int:
        found = self.counters.get(key)
        return found[0] if found is not None and self._live(found[1]) else 0

    async def clear_failures(self, key: str) -> None:
        self.counters.pop(key, None)
