"""One template send through the gateway, and what its failure means for a notification.

Business-initiated sends are not replies: they do not go through a conversation's outbox.
They share with the replies the per-number rate limiter (``NotificationStore.reserve``
takes both the number's limiter and the notification lane, at most ``max_share`` of the
rate) and the gateway's error classification (``gateway/whatsapp.py``); what a code
does to a campaign is :func:`~flow_engine.domain.notifications.action_for`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flow_engine.domain.config import NumberConfig
from flow_engine.domain.notifications import Action, action_for
from flow_engine.domain.outbound import Template
from flow_engine.domain.templates import CatalogTemplate, components
from flow_engine.errors import GatewayError, TransientGatewayError
from flow_engine.gateway.base import Gateway


@dataclass(frozen=True)
class Outcome:
    wamid: str | None = None
    action: Action | None = None  # None: accepted
    code: int | None = None
    title: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.wamid is not None


class TemplateSender:
    """Sends templates; never raises for a gateway failure (returns the outcome)."""

    def __init__(self, gateway: Gateway, default_rate: float) -> None:
        self.gateway = gateway
        self.default_rate = default_rate

    def rate_of(self, config: NumberConfig | None) -> float:
        if config is not None and config.send_rate_per_second:
            return float(config.send_rate_per_second)
        return self.default_rate

    @staticmethod
    def message(
        template: CatalogTemplate, parameters: dict[str, Any] | None, callback: str
    ) -> Template:
        return Template(
            name=template.name,
            language=template.language,
            components=components(template, parameters),
            callback_data=callback,
        )

    async def send(self, number: str, to: str, message: Template) -> Outcome:
        try:
            wamid = await self.gateway.send(number, to, message)
        except GatewayError as exc:
            transient = isinstance(exc, TransientGatewayError)
            return Outcome(
                action=action_for(exc.api_code, transient),
                code=exc.api_code,
                title=exc.message[:200],
                retry_after=exc.retry_after,
            )
        return Outcome(wamid=wamid)
