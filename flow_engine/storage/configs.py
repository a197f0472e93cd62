"""Number configurations with every version kept; writes are all or nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol

from flow_engine.storage.audit import AuditEntry


@dataclass(frozen=True)
class ConfigVersion:
    """One stored version of a number's configuration. Versions count 1, 2, 3… per number;
    the newest is the configuration in force."""

    number: str
    version: int
    config: dict[str, Any]
    author: str
    at: float
    summary: str
    source: str  # "api", "bulk", "replicate", "restore", "upgrade", "templates", "file", "system"
    digest: str  # sha256 of the canonical JSON of ``config``
    #: last change time of each top-level key of the configuration (``templates`` → when
    #: the active templates last changed), carried from version to version
    changed_at: dict[str, float] = field(default_factory=dict)
    #: the e-mail of the member who wrote it, as it was then (None: the super-admin, the
    #: system, a file, or a version written before e-mails were recorded)
    author_email: str | None = None


@dataclass(frozen=True)
class ConfigChange:
    """A new version to write, computed from version ``expected_version`` (0: the number
    has no configuration yet)."""

    number: str
    expected_version: int
    config: dict[str, Any]
    author: str
    summary: str
    source: str
    at: float
    digest: str
    changed_at: dict[str, float] = field(default_factory=dict)
    author_email: str | None = None


class StaleVersions(Exception):
    """A commit refused because some numbers moved on: ``actual`` maps each such number
    to its current version. Nothing was written."""

    def __init__(self, actual: dict[str, int]) -> None:
        super().__init__(f"stale versions: {actual}")
        self.actual = actual


class ConfigListener(Protocol):
    """Told of configuration commits by :meth:`ConfigStore.watch`. Every commit has a
    *generation*: a counter of commits, one store-wide sequence."""

    def resync(self, generation: int) -> None:
        """Watching (again) from ``generation`` on: anything learnt before may be stale."""

    def changed(self, generation: int, numbers: list[str]) -> None:
        """The commit that made ``generation`` changed the configurations of ``numbers``."""

    def lost(self) -> None:
        """Commits may go untold from now on, until the next :meth:`resync`."""


class ConfigStore(ABC):
    """Number configurations as JSON documents (validated by the caller), with every
    version kept. Writes go through :meth:`commit`, all or nothing."""

    @abstractmethod
    async def get_raw(self, number: str) -> str | None:
        """The configuration in force, as stored (read by the runtime on every message)."""

    async def get(self, number: str) -> dict[str, Any] | None:
        raw = await self.get_raw(number)
        return None if raw is None else dict(json.loads(raw))

    @abstractmethod
    async def numbers(self) -> list[str]:
        """Every number with a configuration, sorted."""

    async def present(self, numbers: list[str]) -> set[str]:
        """Which of ``numbers`` have a configuration in force (one round trip on Redis)."""
        return {n for n in numbers if await self.get_raw(n) is not None}

    @abstractmethod
    async def heads(self, numbers: list[str]) -> dict[str, ConfigVersion]:
        """The newest version of each number that has one (absent numbers are left out)."""

    async def head(self, number: str) -> ConfigVersion | None:
        return (await self.heads([number])).get(number)

    @abstractmethod
    async def versions(
        self, number: str, *, limit: int = 50, offset: int = 0
    ) -> list[ConfigVersion]:
        """Versions newest first, skipping ``offset``."""

    @abstractmethod
    async def version(self, number: str, version: int) -> ConfigVersion | None: ...

    @abstractmethod
    async def commit(
        self, changes: list[ConfigChange], audit: list[AuditEntry] | None = None
    ) -> list[ConfigVersion]:
        """Write every change as its number's next version, set it in force, and append
        ``audit`` — in one atomic step. If any number's current version is not the change's
        ``expected_version``, write nothing and raise :class:`StaleVersions`. At most one
        change per number."""

    async def watch(self, listener: ConfigListener) -> None:
        """Tell ``listener`` of every commit, by any process, until cancelled: first
        :meth:`~ConfigListener.resync`, then each commit's numbers, with ``lost`` and a new
        ``resync`` around any gap in the telling. A store that cannot tell never calls
        ``resync`` (the default: its readers trust no cache)."""
        await asyncio.Event().wait()

    async def put(
        self, number: str, config: dict[str, Any], *, author: str = "system"
    ) -> ConfigVersion:
        """Write ``config`` as a new version whatever the current one is (seeding, tests)."""
        while True:
            head = await self.head(number)
            change = new_change(
                head, number, config, author=author, summary="set", source="system"
            )
            try:
                return (await self.commit([change]))[0]
            except StaleVersions:
                continue


def config_digest(config: dict[str, Any]) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_change(
    head: ConfigVersion | None,
    number: str,
    config: dict[str, Any],
    *,
    author: str,
    summary: str,
    source: str,
    at: float | None = None,
    author_email: str | None = None,
) -> ConfigChange:
    """The change that makes ``config`` the version after ``head``; ``changed_at`` carries
    over, with the time of each top-level key that differs from ``head``."""
    at = time.time() if at is None else at
    before = head.config if head else {}
    changed_at = dict(head.changed_at) if head else {}
    for key in set(before) | set(config):
        if before.get(key) != config.get(key):
            changed_at[key] = at
    return ConfigChange(
        number=number,
        expected_version=head.version if head else 0,
        config=config,
        author=author,
        summary=summary,
        source=source,
        at=at,
        digest=config_digest(config),
        changed_at=changed_at,
        author_email=author_email,
    )
