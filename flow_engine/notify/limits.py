"""The messaging limit that a number's business-initiated sends (campaigns and individual
notifications) keep under: distinct contacts reached in a rolling 24 h.

Which limit applies, in order:

1. the tier the gateway gave (``whatsapp_business_manager_messaging_limit``, read by the
   health service: ``TIER_250`` → 250, ``TIER_2K`` → 2,000, … ``UNLIMITED`` → none), when
   it was read within the last :data:`FRESH_S` (the daily read, a quality webhook or
   ``POST …/gateway/refresh`` keep it fresh);
2. otherwise the configuration's ``notifications.messaging_limit`` (default 250, Meta's
   first tier; null: unlimited) — a number never read, or not read for two days;
3. ``desk.active_messaging.daily_limit``, when set, caps either: the number's own, lower
   cap.

The tier is read on every use (one store read per chunk of a campaign), so a new tier
applies at once to running campaigns, and within a minute to a waiting one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from flow_engine.domain.config import NumberConfig
from flow_engine.notify.standing import GatewayLimit, NumberStanding

#: a tier read longer ago than this gives way to the configuration
FRESH_S = 48 * 3600.0
GATEWAY_FIELD = "gateway.messaging_limit"
CONFIG_FIELD = "notifications.messaging_limit"
OWN_FIELD = "desk.active_messaging.daily_limit"


@dataclass(frozen=True)
class Limit:
    """Contacts per rolling 24 h (None: unlimited), and what set it: ``field`` is one of
    ``gateway.messaging_limit``, ``notifications.messaging_limit``,
    ``desk.active_messaging.daily_limit``; ``tier`` the gateway's, when it counted."""

    contacts: int | None
    field: str
    tier: str | None = None


def choose(config: NumberConfig, gateway: GatewayLimit | None, now: float) -> Limit:
    """The limit of ``config``'s number given what the gateway last said (see above)."""
    if gateway is not None and now - gateway.read_at <= FRESH_S:
        base = Limit(gateway.contacts, GATEWAY_FIELD, gateway.tier)
    else:
        base = Limit(config.notifications.messaging_limit, CONFIG_FIELD)
    own = config.desk.active_messaging.daily_limit
    if own is not None and (base.contacts is None or own < base.contacts):
        return Limit(own, OWN_FIELD, base.tier)
    return base


class MessagingLimits:
    def __init__(
        self, standing: NumberStanding | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.standing = standing
        self.clock = clock

    async def of(self, config: NumberConfig) -> Limit:
        gateway = None
        if self.standing is not None:
            gateway = await self.standing.messaging_limit(config.phone_number_id)
        return choose(config, gateway, self.clock())
