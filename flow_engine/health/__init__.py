"""Number health and activation (R-HEALTH, R-ACTIVATE): the service package.

:class:`Health` bundles what one process runs: the service (reads, table, history,
listeners of class changes), activation, the job worker and the daily reader. Built once
by the app (``web/app.py``), started and stopped with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry

from flow_engine.domain.health import parse_check_time
from flow_engine.gateway.base import Gateway
from flow_engine.health.activation import ActivationService
from flow_engine.health.alerts import AlertSink
from flow_engine.health.daily import DailyReader
from flow_engine.health.jobs import HealthWorker
from flow_engine.health.metrics import HealthMetrics
from flow_engine.health.service import HealthService, Listener, MessagingLimit
from flow_engine.settings import Settings
from flow_engine.storage.configs import ConfigStore
from flow_engine.storage.health import HealthStore

__all__ = ["Health", "HealthService", "Listener", "MessagingLimit"]


@dataclass
class Health:
    service: HealthService
    activation: ActivationService
    worker: HealthWorker
    daily: DailyReader

    @classmethod
    def build(
        cls,
        store: HealthStore,
        configs: ConfigStore,
        gateway: Gateway,
        registry: CollectorRegistry,
        settings: Settings,
        *,
        owner: str,
        post_alert: AlertSink | None,
        clock: Callable[[], float] = time.time,
    ) -> Health:
        service = HealthService(
            store,
            configs,
            gateway,
            HealthMetrics(registry),
            zone=ZoneInfo(settings.health_timezone),
            alerts=post_alert is not None,
            clock=clock,
        )
        at = settings.health_check_time
        check_at = parse_check_time(at) if at is not None else None
        lease_s = max(settings.lease_ttl_ms / 1000, settings.whatsapp_timeout_s * 3)
        return cls(
            service=service,
            activation=ActivationService(store, configs, gateway, service, clock=clock),
            worker=HealthWorker(service, post_alert=post_alert, lease_s=lease_s),
            daily=DailyReader(
                service,
                check_at=check_at,
                owner=owner,
                lease_s=settings.lease_ttl_ms / 1000,
            ),
        )

    async def start(self) -> None:
        await self.worker.start()
        await self.daily.start()

    async def stop(self) -> None:
        await self.daily.stop()
        await self.worker.stop()
