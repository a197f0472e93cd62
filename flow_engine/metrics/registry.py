"""Prometheus metrics of one engine process (a registry per app, so tests can run many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Every metric the engine exports at ``GET /metrics``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.webhooks = Counter(
            "flow_engine_webhooks_total", "Webhook POSTs by result", ["result"], registry=r
        )
        self.inbound = Counter(
            "flow_engine_inbound_messages_total",
            "Inbound messages accepted",
            ["type"],
            registry=r,
        )
        self.dedupe_hits = Counter(
            "flow_engine_dedupe_hits_total", "Redelivered messages dropped", registry=r
        )
        self.statuses = Counter(
            "flow_engine_statuses_total", "Delivery statuses received", ["status"], registry=r
        )
        self.processed = Counter(
            "flow_engine_processed_total", "Inbound messages handled", ["result"], registry=r
        )
        self.outbound = Counter(
            "flow_engine_outbound_total",
            "Outbound sends by result",
            ["kind", "result"],
            registry=r,
        )
        self.retries = Counter(
            "flow_engine_send_retries_total",
            "Send retries after transient errors",
            ["code"],
            registry=r,
        )
        self.latency = Histogram(
            "flow_engine_processing_seconds",
            "From webhook receipt to the last reply accepted by the gateway",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.queue_depth = Gauge(
            "flow_engine_queue_depth", "Messages waiting", ["queue"], registry=r
        )
        self.partitions = Gauge(
            "flow_engine_partitions_owned", "Inbound partitions this process owns", registry=r
        )
        self.skill_failures = Counter(
            "flow_engine_skill_failures_total", "Skill failures", ["point", "reason"], registry=r
        )
        self.notifications_sent = Counter(
            "flow_engine_notifications_sent_total",
            "Business-initiated template sends by result (sent, failed, retried, paused, limited)",
            ["kind", "result"],
            registry=r,
        )
        self.notification_statuses = Counter(
            "flow_engine_notification_statuses_total",
            "Notifications and campaign recipients entering a status (sent, delivered, read, "
            "failed, replied)",
            ["kind", "status"],
            registry=r,
        )
