"""Active notifications (PRODUCT §6): the template catalog, individual sends, campaigns
with their drivers, and tracking to the reply. ``NotifyService`` holds them for one app.

What the gateway says of a number reaches them through ``standing`` (the health service,
wired in ``web/app.py``): its messaging limit (``limits.py``) and whether it is rated bad;
``holds.on_health_change`` is the listener the app registers with the health service
(``holds.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from flow_engine.engine.config_cache import ConfigCache
from flow_engine.gateway.base import Gateway
from flow_engine.metrics.registry import Metrics
from flow_engine.notify.campaigns import Campaigns
from flow_engine.notify.catalog import Catalogs
from flow_engine.notify.driver import DriverContext
from flow_engine.notify.facts import NotificationFacts
from flow_engine.notify.holds import Holds
from flow_engine.notify.individual import Notifications
from flow_engine.notify.limits import MessagingLimits
from flow_engine.notify.runner import NotifyRunner
from flow_engine.notify.sending import TemplateSender
from flow_engine.notify.standing import NumberStanding
from flow_engine.notify.tracking import Tracker
from flow_engine.storage.base import Storage


@dataclass
class NotifyService:
    catalogs: Catalogs
    notifications: Notifications
    campaigns: Campaigns
    tracker: Tracker
    runner: NotifyRunner
    holds: Holds
    owner: str

    @classmethod
    def build(
        cls,
        storage: Storage,
        gateway: Gateway,
        configs: ConfigCache,
        metrics: Metrics,
        *,
        owner: str,
        default_rate: float,
        lease_ttl_ms: int,
        claim_ttl_ms: int,
        retry_base_s: float = 0.5,
        standing: NumberStanding | None = None,
        clock: Callable[[], float] = time.time,
    ) -> NotifyService:
        store = storage.notifications
        facts = NotificationFacts(storage.rollups, configs, store, clock)
        catalogs = Catalogs(store, gateway, configs)
        sender = TemplateSender(gateway, default_rate)
        limits = MessagingLimits(standing, clock)
        holds = Holds(store, standing)
        notifications = Notifications(
            storage, configs, catalogs, sender, metrics, owner, claim_ttl_ms, limits, clock, facts
        )
        ctx = DriverContext(
            store,
            configs,
            sender,
            metrics,
            owner,
            lease_ttl_ms,
            claim_ttl_ms / 1000,
            limits,
            holds,
            retry_base_s=retry_base_s,
            clock=clock,
            facts=facts,
        )
        return cls(
            catalogs=catalogs,
            notifications=notifications,
            campaigns=Campaigns(store, configs, catalogs, clock),
            tracker=Tracker(store, metrics, clock, configs, facts),
            runner=NotifyRunner(ctx, notifications),
            holds=holds,
            owner=owner,
        )
