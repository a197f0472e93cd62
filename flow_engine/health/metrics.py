"""The health metrics, on the app's Prometheus registry (``GET /metrics``)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge

from flow_engine.domain.health import HealthClass


class HealthMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.numbers = Gauge(
            "flow_engine_numbers_health",
            "Configured numbers in each health class (good, medium, bad, unknown)",
            ["class"],
            registry=registry,
        )
        self.changes = Counter(
            "flow_engine_health_changes_total",
            "Changes of a number's health class made by this process",
            ["from", "to"],
            registry=registry,
        )
        self.reads = Counter(
            "flow_engine_health_reads_total",
            "Reads of phone number fields from the gateway by cause and result",
            ["cause", "result"],
            registry=registry,
        )
        self.alerts = Counter(
            "flow_engine_health_alerts_total",
            "Health alert POSTs by result (sent, failed, dropped)",
            ["result"],
            registry=registry,
        )
        for c in HealthClass:
            self.numbers.labels(c.value).set(0)

    def set_counts(self, counts: Mapping[str, int]) -> None:
        for c in HealthClass:
            self.numbers.labels(c.value).set(counts.get(c.value, 0))
