"""The state of the memory stores: everything in this process, serialized as JSON like
Redis, so serialization bugs show in unit tests. Nothing survives a restart."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from flow_engine.storage import records
from flow_engine.storage.audit import AuditEntry
from flow_engine.storage.conversations import Retention

if TYPE_CHECKING:
    from flow_engine.storage.configs import ConfigListener


class MemoryBackend:
    """Shared state of the memory stores (one per Storage)."""

    def __init__(
        self, dedupe_ttl_s: float = 7 * 24 * 3600, retention: Retention | None = None
    ) -> None:
        self.dedupe_ttl_s = dedupe_ttl_s
        self.retention = retention or Retention()
        self.seq = 0
        self.inbound: dict[int, OrderedDict[str, str]] = {}
        self.outbox: dict[int, OrderedDict[str, str]] = {}
        self.outbox_retry: dict[int, dict[str, tuple[float, int, float]]] = {}
        self.dead: list[tuple[str, str, str]] = []
        # key -> expiry (monotonic); one TTL per kind of mark, so insertion order is expiry order
        self.marks: OrderedDict[str, float] = OrderedDict()
        self.records: dict[tuple[str, str], str] = {}
        self.record_expiry: dict[tuple[str, str], float] = {}  # monotonic; none: kept
        self.known: dict[tuple[str, str], tuple[float, float]] = {}  # (first seen, expiry)
        self.claims: dict[str, tuple[str, float]] = {}
        self.jobs: dict[int, dict[str, tuple[float, str]]] = {}  # partition -> id -> (due, msg)
        self.unsent: dict[tuple[str, str], int] = {}
        self.configs: dict[str, str] = {}  # number -> configuration in force (JSON)
        self.config_versions: dict[str, list[str]] = {}  # number -> version records, oldest first
        self.config_generation = 0  # configuration commits so far
        self.config_listeners: list[ConfigListener] = []
        self.audit: list[str] = []  # oldest first, capped at audit_kept
        self.audit_kept = records.AUDIT_KEPT
        self.directory: tuple[int, str | None] = (0, None)
        self.statuses: dict[str, list[str]] = {}
        self.failures: dict[str, list[str]] = {}
        self.surveys: dict[str, list[str]] = {}
        self.events: list[str] = []
        self.rate_tat: dict[str, float] = {}
        self.waiters: dict[int, set[asyncio.Event]] = {}

    def next_id(self) -> str:
        self.seq += 1
        return f"{int(time.time() * 1000)}-{self.seq}"

    def mark(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        while self.marks:  # drop expired marks from the oldest end
            oldest, expiry = next(iter(self.marks.items()))
            if expiry > now:
                break
            del self.marks[oldest]
        if key in self.marks:
            return False
        self.marks[key] = now + ttl
        return True

    def record(self, key: tuple[str, str]) -> str | None:
        """A conversation record, unless it expired (then it is dropped)."""
        expiry = self.record_expiry.get(key)
        if expiry is not None and expiry <= time.monotonic():
            self.records.pop(key, None)
            self.record_expiry.pop(key, None)
        return self.records.get(key)

    def known_since(self, key: tuple[str, str]) -> float | None:
        """When a known contact first wrote, unless the mark expired (then it is dropped)."""
        known = self.known.get(key)
        if known is not None and known[1] <= time.monotonic():
            del self.known[key]
            return None
        return None if known is None else known[0]

    def has_mark(self, key: str) -> bool:
        expiry = self.marks.get(key)
        return expiry is not None and expiry > time.monotonic()

    def append_audit(self, entries: list[AuditEntry]) -> None:
        if not entries:
            return
        self.audit.extend(records.audit_json(e) for e in entries)
        excess = len(self.audit) - self.audit_kept
        if excess > 0:
            del self.audit[:excess]

    def notify(self, partition: int) -> None:
        for event in self.waiters.get(partition, ()):
            event.set()

    async def connect(self) -> None:
        return None

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None
