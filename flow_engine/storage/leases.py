"""Partition leases and process heartbeats."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple


class Heartbeat(NamedTuple):
    """What a heartbeat learnt: how many processes are alive, and whether the store had
    forgotten this one (its last heartbeat expired, or the store lost its data)."""

    alive: int
    rejoined: bool


class LeaseStore(ABC):
    """Partition ownership across engine processes."""

    @abstractmethod
    async def acquire(self, partition: int, owner: str, ttl_ms: int) -> bool: ...

    @abstractmethod
    async def renew(self, partition: int, owner: str, ttl_ms: int) -> bool:
        """Extend ``owner``'s lease, or take it back when no one holds it (it expired
        while the store could not be reached, or the store lost its data): the worker
        goes on with what it holds. False when another process holds it."""

    async def renew_many(self, partitions: list[int], owner: str, ttl_ms: int) -> list[bool]:
        """Renew several leases at once (one round trip where the backend can)."""
        return [await self.renew(p, owner, ttl_ms) for p in partitions]

    @abstractmethod
    async def release(self, partition: int, owner: str) -> None: ...

    @abstractmethod
    async def heartbeat(self, owner: str, ttl_ms: int) -> Heartbeat:
        """Announce ``owner`` alive for ``ttl_ms``; how many processes are alive."""

    @abstractmethod
    async def leave(self, owner: str) -> None: ...
