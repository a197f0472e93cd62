"""The per-number send rate in this process (GCRA)."""

from __future__ import annotations

import time

from flow_engine.storage.memory_backend import MemoryBackend
from flow_engine.storage.rates import RateLimiter


class MemoryRates(RateLimiter):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def reserve(self, number: str, per_second: float) -> float:
        now = time.monotonic()
        interval = 1.0 / per_second
        burst = max(1.0, per_second) * interval
        tat = max(self.b.rate_tat.get(number, now), now)
        self.b.rate_tat[number] = tat + interval
        return max(0.0, tat + interval - burst - now)
