"""Which configured numbers a gateway webhook is about.

``phone_number_quality_update`` names the display number, not the ``phone_number_id``;
``account_update`` names the WhatsApp Business Account (``entry.id``) and sometimes a
display number (``phone_number``). Both are looked up in the configurations, rebuilt when
a name is not found (at most once per ``MISS_REBUILD_S``) and at least every ``TTL_S``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flow_engine.domain.health import digits
from flow_engine.storage.configs import ConfigStore

TTL_S = 60.0
MISS_REBUILD_S = 5.0


@dataclass
class NumberIndex:
    configs: ConfigStore
    clock: Callable[[], float] = time.monotonic
    by_display: dict[str, list[str]] = field(default_factory=dict)
    by_waba: dict[str, list[str]] = field(default_factory=dict)
    built_at: float | None = None

    async def rebuild(self) -> None:
        numbers = await self.configs.numbers()
        heads = await self.configs.heads(numbers)
        by_display: dict[str, list[str]] = {}
        by_waba: dict[str, list[str]] = {}
        for number, head in heads.items():
            display = digits(str(head.config.get("display_phone_number") or ""))
            if display:
                by_display.setdefault(display, []).append(number)
            waba = head.config.get("waba_id")
            if waba:
                by_waba.setdefault(str(waba), []).append(number)
        self.by_display, self.by_waba = by_display, by_waba
        self.built_at = self.clock()

    async def _lookup(self, table: str, key: str) -> list[str]:
        now = self.clock()
        if self.built_at is None or now - self.built_at > TTL_S:
            await self.rebuild()
        found: list[str] = getattr(self, table).get(key, [])
        if not found and self.built_at is not None and now - self.built_at > MISS_REBUILD_S:
            await self.rebuild()
            found = getattr(self, table).get(key, [])
        return list(found)

    async def display(self, display_phone_number: str) -> list[str]:
        """The numbers configured with this display number (compared on digits)."""
        key = digits(display_phone_number)
        return await self._lookup("by_display", key) if key else []

    async def waba(self, waba_id: str) -> list[str]:
        """The numbers configured with this ``waba_id``."""
        return await self._lookup("by_waba", waba_id) if waba_id else []
