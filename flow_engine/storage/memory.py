"""The embedded backend: all state in this process, serialized as JSON like Redis.

It gives the same guarantees as Redis within one process: atomic dedupe + enqueue,
atomic commit, ordered per-partition queues. Each store is its own module
(``memory_<kind>.py``) on one :class:`MemoryBackend`. Nothing survives a restart.
"""

from __future__ import annotations

from flow_engine.storage.base import Storage
from flow_engine.storage.conversations import Retention
from flow_engine.storage.memory_audit import MemoryAudit
from flow_engine.storage.memory_backend import MemoryBackend
from flow_engine.storage.memory_configs import MemoryConfigs
from flow_engine.storage.memory_conversations import MemoryConversations
from flow_engine.storage.memory_directory import MemoryDirectory
from flow_engine.storage.memory_events import MemoryEvents
from flow_engine.storage.memory_health import MemoryHealth
from flow_engine.storage.memory_leases import MemoryLeases
from flow_engine.storage.memory_notifications import MemoryNotifications
from flow_engine.storage.memory_outbox import MemoryOutbox
from flow_engine.storage.memory_queue import MemoryQueue
from flow_engine.storage.memory_rates import MemoryRates
from flow_engine.storage.memory_rollups import MemoryRollups
from flow_engine.storage.memory_sessions import MemorySessions
from flow_engine.storage.memory_tickets import MemoryTickets


def memory_storage(
    dedupe_ttl_s: float = 7 * 24 * 3600, retention: Retention | None = None
) -> Storage:
    b = MemoryBackend(dedupe_ttl_s, retention)
    return Storage(
        queue=MemoryQueue(b),
        conversations=MemoryConversations(b),
        outbox=MemoryOutbox(b),
        leases=MemoryLeases(),
        rates=MemoryRates(b),
        configs=MemoryConfigs(b),
        events=MemoryEvents(b),
        tickets=MemoryTickets(b),
        audit=MemoryAudit(b),
        directory=MemoryDirectory(b),
        health=MemoryHealth(b),
        notifications=MemoryNotifications(b),
        sessions=MemorySessions(),
        rollups=MemoryRollups(b),
        backend=b,
    )
