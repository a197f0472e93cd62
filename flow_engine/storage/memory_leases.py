"""Partition leases in this process."""

from __future__ import annotations

import time

from flow_engine.storage.leases import Heartbeat, LeaseStore


class MemoryLeases(LeaseStore):
    """One process owns everything; leases still expire so tests can exercise them."""

    def __init__(self) -> None:
        self.leases: dict[int, tuple[str, float]] = {}
        self.alive: dict[str, float] = {}

    def _holder(self, partition: int) -> str | None:
        held = self.leases.get(partition)
        if held is None or held[1] <= time.monotonic():
            return None
        return held[0]

    async def acquire(self, partition: int, owner: str, ttl_ms: int) -> bool:
        if self._holder(partition) not in (None, owner):
            return False
        self.leases[partition] = (owner, time.monotonic() + ttl_ms / 1000)
        return True

    async def renew(self, partition: int, owner: str, ttl_ms: int) -> bool:
        if self._holder(partition) not in (None, owner):
            return False
        self.leases[partition] = (owner, time.monotonic() + ttl_ms / 1000)
        return True

    async def release(self, partition: int, owner: str) -> None:
        if self._holder(partition) == owner:
            del self.leases[partition]

    async def heartbeat(self, owner: str, ttl_ms: int) -> Heartbeat:
        now = time.monotonic()
        rejoined = self.alive.get(owner, 0.0) <= now
        self.alive[owner] = now + ttl_ms / 1000
        return Heartbeat(sum(1 for exp in self.alive.values() if exp > now), rejoined)

    async def leave(self, owner: str) -> None:
        self.alive.pop(owner, None)
