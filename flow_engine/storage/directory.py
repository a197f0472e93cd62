"""The access directory as one versioned document."""

from __future__ import annotations

from abc import ABC, abstractmethod

from flow_engine.storage.audit import AuditEntry


class DirectoryStore(ABC):
    """The access directory (profiles, members, links, tokens, owners: ``admin/directory.py``)
    as one versioned JSON document, replaced by compare-and-swap."""

    @abstractmethod
    async def load(self) -> tuple[int, str | None]:
        """``(version, document)``; ``(0, None)`` before the first swap."""

    @abstractmethod
    async def current_version(self) -> int:
        """The version alone (cheap: checked on every API request)."""

    @abstractmethod
    async def swap(self, expected: int, document: str, audit: list[AuditEntry]) -> int | None:
        """Store ``document`` as version ``expected + 1`` and append ``audit``, atomically,
        if the version is still ``expected``; return the new version, or None (nothing
        written) if another writer got there first."""
