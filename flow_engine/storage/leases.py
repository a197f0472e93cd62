"""Partition leases and process heartbeats."""

from __future__ import annotations

from abc import ABC, abstractmethod


class LeaseStore(ABC):
    """Partition ownership across engine processes."""

    @abstractmethod
    async def acquire(self, partition: int, owner: str, ttl_ms: int) -> bool: ...

    @abstractmethod
    async def renew(self, partition: int, owner: str, ttl_ms: int) -> bool: ...

    async def renew_many(self, partitions: list[int], owner: str, ttl_ms: int) -> list[bool]:
        """Renew several leases at once (one round trip where the backend can)."""
        return [await self.renew(p, owner, ttl_ms) for p in partitions]

    @abstractmethod
    async def release(self, partition: int, owner: str) -> None: ...

    @abstractmethod
    async def heartbeat(self, owner: str, ttl_ms: int) -> int:
        """Announce ``owner`` alive; return how many processes are alive."""

    @abstractmethod
    async def leave(self, owner: str) -> None: ...
