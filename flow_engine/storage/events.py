"""Delivery statuses, account events, send failures and survey answers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from flow_engine.domain.inbound import AccountEvent, StatusUpdate


class EventLog(ABC):
    """Delivery statuses and account events, kept for metrics."""

    @abstractmethod
    async def record_statuses(self, statuses: list[StatusUpdate]) -> None: ...

    @abstractmethod
    async def record_events(self, events: list[AccountEvent]) -> None: ...

    @abstractmethod
    async def statuses(self, number: str, limit: int = 100) -> list[StatusUpdate]:
        """Newest last."""

    @abstractmethod
    async def record_send_failure(
        self, number: str, contact: str, key: str, code: int | None, reason: str
    ) -> None: ...

    @abstractmethod
    async def send_failures(self, number: str, limit: int = 100) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def record_survey(
        self,
        number: str,
        contact: str,
        kind: str,
        score: int,
        ticket_id: str,
        at: float,
        *,
        answer_id: str,
    ) -> bool:
        """A survey answer (R-FLOW-11), kept for the metrics. Keyed by ``answer_id`` (the
        inbound message id of the answer): the same answer again, as when its turn runs
        again after a failed commit, records nothing and returns False."""

    @abstractmethod
    async def surveys(self, number: str, limit: int = 100) -> list[dict[str, Any]]:
        """Newest last."""
