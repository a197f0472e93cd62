"""All the engine's state, from one backend.

One interface per kind of state, each in its own module, stating what must be atomic:
``queue.py``, ``conversations.py``, ``outbox.py``, ``leases.py``, ``rates.py``,
``configs.py``, ``audit.py``, ``directory.py``, ``events.py``, ``tickets.py``,
``health.py``, ``sessions.py``, ``rollups.py``. Two backends implement each:
``memory_<kind>.py`` (embedded) and ``redis_<kind>.py``, assembled by ``memory.py`` /
``redis.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flow_engine.storage.audit import AuditLog
from flow_engine.storage.configs import ConfigStore
from flow_engine.storage.conversations import ConversationStore
from flow_engine.storage.directory import DirectoryStore
from flow_engine.storage.events import EventLog
from flow_engine.storage.health import HealthStore
from flow_engine.storage.leases import LeaseStore
from flow_engine.storage.notifications import NotificationStore
from flow_engine.storage.outbox import Outbox
from flow_engine.storage.queue import InboundQueue
from flow_engine.storage.rates import RateLimiter
from flow_engine.storage.rollups import Rollups
from flow_engine.storage.sessions import SessionStore
from flow_engine.storage.tickets import TicketStore


@dataclass
class Storage:
    """All state of the engine, from one backend."""

    queue: InboundQueue
    conversations: ConversationStore
    outbox: Outbox
    leases: LeaseStore
    rates: RateLimiter
    configs: ConfigStore
    events: EventLog
    tickets: TicketStore
    audit: AuditLog
    directory: DirectoryStore
    health: HealthStore
    notifications: NotificationStore
    sessions: SessionStore
    rollups: Rollups
    backend: Any = None  # the backend object, for ping() and close()
    #: what the backend raises when the store cannot be reached now (connection lost or
    #: refused, a command timed out): the operation may be retried later, and a request
    #: that meets one answers 503 (``store_unavailable``)
    unavailable: tuple[type[Exception], ...] = ()

    def is_unavailable(self, exc: BaseException) -> bool:
        return isinstance(exc, self.unavailable)

    async def connect(self) -> None:
        """Be ready for concurrent callers (a cluster client learns its nodes here)."""
        await self.backend.connect()

    async def ping(self) -> bool:
        result: bool = await self.backend.ping()
        return result

    async def close(self) -> None:
        await self.backend.close()
