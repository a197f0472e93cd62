"""The Redis backend: every state shared by any number of engine processes.

Each store is its own module (``redis_<kind>.py``) on one :class:`RedisBackend`; atomic
steps are the Lua scripts of ``redis_scripts.py``, over keys of one hash slot (see
``keys.py``). Only the ``storage/redis*`` modules import ``redis``.
"""

from __future__ import annotations

from flow_engine.storage.base import Storage
from flow_engine.storage.conversations import Retention
from flow_engine.storage.redis_audit import RedisAudit
from flow_engine.storage.redis_backend import UNAVAILABLE, RedisBackend
from flow_engine.storage.redis_configs import RedisConfigs
from flow_engine.storage.redis_conversations import RedisConversations
from flow_engine.storage.redis_directory import RedisDirectory
from flow_engine.storage.redis_events import RedisEvents
from flow_engine.storage.redis_health import RedisHealth
from flow_engine.storage.redis_leases import RedisLeases
from flow_engine.storage.redis_notifications import RedisNotifications
from flow_engine.storage.redis_outbox import RedisOutbox
from flow_engine.storage.redis_queue import RedisQueue
from flow_engine.storage.redis_rates import RedisRates
from flow_engine.storage.redis_rollups import RedisRollups
from flow_engine.storage.redis_sessions import RedisSessions
from flow_engine.storage.redis_tickets import RedisTickets


def redis_storage(
    url: str,
    *,
    partitions: int,
    dedupe_ttl_s: int = 7 * 24 * 3600,
    timeout_s: float = 5.0,
    retention: Retention | None = None,
) -> Storage:
    b = RedisBackend.from_url(
        url,
        partitions=partitions,
        dedupe_ttl_s=dedupe_ttl_s,
        timeout_s=timeout_s,
        retention=retention,
    )
    return Storage(
        queue=RedisQueue(b),
        conversations=RedisConversations(b),
        outbox=RedisOutbox(b),
        leases=RedisLeases(b),
        rates=RedisRates(b),
        configs=RedisConfigs(b),
        events=RedisEvents(b),
        tickets=RedisTickets(b),
        audit=RedisAudit(b),
        directory=RedisDirectory(b),
        health=RedisHealth(b),
        notifications=RedisNotifications(b),
        sessions=RedisSessions(b),
        rollups=RedisRollups(b),
        backend=b,
        unavailable=UNAVAILABLE,
    )
