"""The per-number send rate, shared by every engine process."""

from __future__ import annotations

from abc import ABC, abstractmethod


class RateLimiter(ABC):
    @abstractmethod
    async def reserve(self, number: str, per_second: float) -> float:
        """Reserve one send slot for ``number``; return seconds to wait before using it."""
