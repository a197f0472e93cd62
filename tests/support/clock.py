"""A clock the tests move: the runtime, the flow and the timers all read it."""

from __future__ import annotations

import time
from datetime import datetime


class MovableClock:
    def __init__(self, start: float | None = None) -> None:
        self.offset = 0.0 if start is None else start - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset

    def set(self, when: datetime) -> None:
        self.offset = when.timestamp() - time.time()

    def advance(self, seconds: float) -> None:
        self.offset += seconds
