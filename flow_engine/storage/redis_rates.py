"""The per-number send rate in Redis: a GCRA reservation in one script."""

from __future__ import annotations

from flow_engine.storage import redis_scripts
from flow_engine.storage.rates import RateLimiter
from flow_engine.storage.redis_backend import RedisBackend


class RedisRates(RateLimiter):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.reserve_script = b.script(redis_scripts.RESERVE)

    async def reserve(self, number: str, per_second: float) -> float:
        interval_ms = 1000.0 / per_second
        burst_ms = max(1.0, per_second) * interval_ms
        wait_us = await self.b.batch.script(
            self.reserve_script, [self.b.keys.rate(number)], [interval_ms, burst_ms]
        )
        return float(wait_us) / 1_000_000
