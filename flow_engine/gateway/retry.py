"""When and how long to retry a failed send; gateway-agnostic.

Two ways to use a :class:`RetryPolicy`: :func:`next_attempt_at` says when the next
attempt after a failure is due (the outbox keeps that time with the entry and moves on:
``engine/outbox.py``), and :func:`send_with_retry` waits and retries in place (the
caller's hooks claim the send before each attempt and report each retry)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flow_engine.errors import TransientGatewayError

if TYPE_CHECKING:
    from flow_engine.domain.outbound import OutboundMessage
    from flow_engine.gateway.base import Gateway
    from flow_engine.settings import Settings

#: Cloud API pair rate limit (same recipient): Meta asks for a retry after 4^n seconds.
PAIR_RATE_LIMIT_CODE = 131056

OnRetry = Callable[[TransientGatewayError, int, float], None]
BeforeAttempt = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by a total time budget.

    ``attempt`` counts retries from 0 (the retry after the first failure). The
    delay is ``base_delay_s * factor**attempt`` capped at ``max_delay_s``, then
    spread by ±``jitter`` (a fraction); a pair rate limit (131056) waits
    ``4**attempt`` seconds instead (Meta's schedule, bounded only by the budget),
    and a gateway ``Retry-After`` hint wins whenever it is longer.
    """

    base_delay_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 30.0
    budget_s: float = 120.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.base_delay_s <= 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("need 0 < base_delay_s <= max_delay_s")
        if self.factor < 1 or self.budget_s < 0 or not 0 <= self.jitter < 1:
            raise ValueError("need factor >= 1, budget_s >= 0 and 0 <= jitter < 1")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(budget_s=settings.send_retry_budget_s)

    def delay_for(self, error: TransientGatewayError, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based) after ``error``."""
        attempt = max(0, attempt)
        if error.api_code == PAIR_RATE_LIMIT_CODE:
            delay = 4.0 ** min(attempt, 16)
        else:
            delay = min(self.max_delay_s, self.base_delay_s * self.factor ** min(attempt, 64))
        if self.jitter:
            delay *= 1 + random.uniform(-self.jitter, self.jitter)
        if error.retry_after is not None and error.retry_after > delay:
            delay = error.retry_after
        return delay


def next_attempt_at(
    policy: RetryPolicy,
    error: TransientGatewayError,
    failed: int,
    first_try: float,
    now: float,
) -> float | None:
    """When the attempt after ``failed`` failed attempts (the last ending in ``error``)
    is due: ``now`` plus the policy's delay for that retry — or None when it would
    overrun ``policy.budget_s`` counted from ``first_try`` (seconds, all on one clock)."""
    delay = policy.delay_for(error, failed - 1)
    if now + delay - first_try > policy.budget_s:
        return None
    return now + delay


async def send_with_retry(
    gateway: Gateway,
    phone_number_id: str,
    to: str,
    message: OutboundMessage,
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    before_attempt: BeforeAttempt | None = None,
    on_retry: OnRetry | None = None,
) -> str:
    """Send ``message``, retrying transient failures while the time budget lasts.

    ``before_attempt`` runs before every attempt (the outbox claims the send there; an
    exception it raises propagates and nothing is sent); ``on_retry(error, attempt,
    delay)`` runs once per retry, before its wait: this function logs nothing itself.
    Permanent errors propagate at once. When the next wait would overrun
    ``policy.budget_s`` the last transient error is raised. Time spent is the
    measured duration of the attempts (their hook included) plus the waits asked of
    ``sleep``, so an injected ``sleep`` that returns at once still exhausts the budget.
    """
    spent = 0.0
    attempt = 0
    while True:
        started = time.monotonic()
        try:
            if before_attempt is not None:
                await before_attempt()
            return await gateway.send(phone_number_id, to, message)
        except TransientGatewayError as error:
            spent += time.monotonic() - started
            delay = policy.delay_for(error, attempt)
            if spent + delay > policy.budget_s:
                raise
            if on_retry is not None:
                on_retry(error, attempt, delay)
            await sleep(delay)
            spent += delay
            attempt += 1
