"""The audit log: who changed what."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who changed what (R-CONF-5, issue 5)."""

    at: float
    actor: str  # "admin" (the super-admin token) or "member:<id>"
    action: str  # e.g. "config.put", "config.bulk", "member.create"
    summary: str
    number: str | None = None  # the number concerned, when there is one
    target: str | None = None  # the profile/member/token id concerned, when there is one
    details: dict[str, Any] = field(default_factory=dict)


class AuditLog(ABC):
    """Who changed what, newest first. Appended to atomically with the change itself by
    :meth:`ConfigStore.commit` and :meth:`DirectoryStore.swap`."""

    @abstractmethod
    async def append(self, entries: list[AuditEntry]) -> None: ...

    @abstractmethod
    async def entries(
        self,
        *,
        numbers: set[str] | None = None,
        include_global: bool = True,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Newest first. ``numbers`` (None: all) keeps entries of those numbers, plus the
        entries without a number when ``include_global``; ``actor``/``action`` filter
        exactly (``action`` may end in ``.*`` for a prefix)."""
