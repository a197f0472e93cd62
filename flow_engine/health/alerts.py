"""Health alerts: the JSON POSTed to ``FLOW_ENGINE_ALERT_WEBHOOK_URL`` for each change of
a number's class, and how failed posts are retried (docs/health.md, "Alerts")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from flow_engine.domain.health import ClassChange

#: POSTs an alert: ``(alert, idempotency key)``; raises on failure.
AlertSink = Callable[[dict[str, Any], str], Awaitable[None]]

BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 300.0
#: Posts tried before an alert is given up (logged ``health_alert_dropped``): about 1.3 h.
ALERT_ATTEMPTS = 20


def backoff(failed: int, base_s: float = BACKOFF_BASE_S) -> float:
    """Seconds before the next try after ``failed`` failed tries: 1, 2, 4, … 300."""
    return float(min(BACKOFF_MAX_S, base_s * 2 ** max(0, failed - 1)))


def alert_body(change: ClassChange, config: dict[str, Any] | None) -> dict[str, Any]:
    """The alert of ``change``; ``id`` is the same for every delivery of one change."""
    c = config or {}
    return {
        "type": "health_class_changed",
        "id": change.id,
        "number": change.number,
        "name": str(c.get("name") or ""),
        "display_phone_number": str(c.get("display_phone_number") or ""),
        "from": change.before.value,
        "to": change.after.value,
        "quality_rating": change.quality_rating,
        "status": change.status,
        "messaging_limit": change.messaging_limit,
        "cause": change.cause,
        "at": change.at,
    }
